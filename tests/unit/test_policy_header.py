"""The Content-Security-Policy header (onboarding/headers.py): the settings' policy, built once per
process, is the header django-csp itself builds; a response that changes its policy, or a nonce,
goes django-csp's own way."""

from __future__ import annotations

import pytest
from csp.constants import NONCE
from csp.decorators import csp_exempt, csp_update
from csp.middleware import CSPMiddleware
from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from onboarding import headers
from onboarding.headers import ContentSecurityPolicyMiddleware

POLICY = {"DIRECTIVES": {"default-src": ["'self'"], "img-src": ["'self'", "data:"], "frame-ancestors": ["'none'"]}}


def answered(view, path: str = "/", *, library: bool = False):
    """``view``'s response through our middleware (or, ``library``, django-csp's own)."""
    request = RequestFactory().get(path)
    middleware = (CSPMiddleware if library else ContentSecurityPolicyMiddleware)(view)
    return middleware(request)


def plain(_request):
    return HttpResponse("page")


@pytest.fixture(autouse=True)
def _production_policy(settings):
    settings.DEBUG = False
    settings.CONTENT_SECURITY_POLICY = POLICY
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = None


def test_a_page_gets_the_header_django_csp_builds_from_the_settings():
    ours, library = answered(plain), answered(plain, library=True)
    assert ours["Content-Security-Policy"] == library["Content-Security-Policy"]
    assert "img-src 'self' data:" in ours["Content-Security-Policy"]
    assert "Content-Security-Policy-Report-Only" not in ours


def test_the_header_is_built_once_for_many_responses(monkeypatch):
    headers.settings_headers.cache_clear()
    built = []
    real = headers.build_policy
    monkeypatch.setattr(headers, "build_policy", lambda **kw: built.append(kw) or real(**kw))
    for _ in range(5):
        answered(plain)
    assert len(built) == 2  # the enforced policy and the (empty) report-only one, once each


def test_changed_settings_give_a_new_header():
    first = answered(plain)["Content-Security-Policy"]
    changed = {"DIRECTIVES": {"default-src": ["'none'"]}}
    with override_settings(CONTENT_SECURITY_POLICY=changed, CONTENT_SECURITY_POLICY_REPORT_ONLY=POLICY):
        response = answered(plain)
        assert response["Content-Security-Policy"].startswith("default-src 'none'")
        assert response["Content-Security-Policy-Report-Only"] == answered(plain, library=True)[
            "Content-Security-Policy-Report-Only"]
    assert answered(plain)["Content-Security-Policy"] == first


def test_a_view_that_changes_its_policy_goes_django_csps_way():
    @csp_update({"img-src": ["https://logo.example.org"]})
    def with_logo(_request):
        return HttpResponse("page")

    header = answered(with_logo)["Content-Security-Policy"]
    assert "https://logo.example.org" in header
    assert header == answered(with_logo, library=True)["Content-Security-Policy"]


def test_an_exempt_view_and_an_excluded_path_get_no_header(settings):
    assert "Content-Security-Policy" not in answered(csp_exempt()(plain))
    settings.CONTENT_SECURITY_POLICY = {**POLICY, "EXCLUDE_URL_PREFIXES": ["/raw/"]}
    assert "Content-Security-Policy" not in answered(plain, "/raw/file")
    assert "Content-Security-Policy" in answered(plain, "/page")


def test_a_nonce_used_by_the_page_is_in_its_header():
    def with_script(request):
        return HttpResponse(f"<script nonce='{request.csp_nonce}'></script>")

    settings_nonce = {"DIRECTIVES": {**POLICY["DIRECTIVES"], "script-src": ["'self'", NONCE]}}
    with override_settings(CONTENT_SECURITY_POLICY=settings_nonce):
        response = answered(with_script)
    nonce = response.content.decode().split("nonce='")[1].split("'")[0]
    assert f"'nonce-{nonce}'" in response["Content-Security-Policy"]
