"""The Content-Security-Policy header: django-csp's middleware, with the settings' policy built once.

django-csp 4 builds the policy from the settings on every response, and the report-only policy as
well even where there is none: a quarter of the CPU time of the project's minimal request
(in-process, `make bench`'s ceiling), on every poll and webhook. A response that changes nothing
of the policy (none of django-csp's decorators) and used no nonce gets the same header every time,
so that header is built once per process, and again when a test changes the settings. Any other
response goes django-csp's own way.
"""

from __future__ import annotations

from functools import cache

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponseBase

# What django-csp's decorators set on a response to change its policy.
PER_RESPONSE = ("_csp_config", "_csp_update", "_csp_replace", "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro")


@cache
def settings_headers() -> tuple[tuple[str, str, tuple[str, ...], str], ...]:
    """(header, value, excluded path prefixes, the response's attribute exempting it) for the
    enforced policy and the report-only one, as the settings define them."""
    headers = []
    for header, setting, report_only, exempt in (
        (HEADER, "CONTENT_SECURITY_POLICY", False, "_csp_exempt"),
        (HEADER_REPORT_ONLY, "CONTENT_SECURITY_POLICY_REPORT_ONLY", True, "_csp_exempt_ro"),
    ):
        value = build_policy(report_only=report_only)
        if value:
            prefixes = tuple((getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES") or ())
            headers.append((header, value, prefixes, exempt))
    return tuple(headers)


@receiver(setting_changed)
def _policy_changed(*, setting: str, **_kwargs: object) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        settings_headers.cache_clear()


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if (
            settings.DEBUG
            or getattr(request, "_csp_nonce", None) is not None
            or any(getattr(response, name, None) is not None for name in PER_RESPONSE)
        ):
            return super().process_response(request, response)
        for header, value, prefixes, exempt in settings_headers():
            if header not in response and not getattr(response, exempt, False) and not (
                prefixes and request.path_info.startswith(prefixes)
            ):
                response[header] = value
        # As django-csp does: a nonce asked for after the header was written is an error.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
