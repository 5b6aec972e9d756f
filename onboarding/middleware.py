"""The portal's own middleware: the visitor's language, the probes, the limit on request bodies."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers

from onboarding.views import errors

SUPPORTED = {code for code, _name in settings.LANGUAGES}


class LanguageMiddleware:
    """The visitor's language: their choice (cookie), else the portal's default (German)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if language not in SUPPORTED:
            language = settings.LANGUAGE_CODE
            if settings.REGISTERFT_USE_BROWSER_LANGUAGE:
                language = translation.get_language_from_request(request)
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        patch_vary_headers(response, ("Cookie",) if not settings.REGISTERFT_USE_BROWSER_LANGUAGE else ("Cookie", "Accept-Language"))
        response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        return response


class ProbeMiddleware:
    """Answers /healthz and /readyz before anything reads the Host header.

    A load balancer probes an instance by its address (``Host: 10.0.0.11:8000``), which is not one
    of DJANGO_ALLOWED_HOSTS; Django's host check would answer 400 and take every instance out. The
    probes build no link from the host and set no cookie, so skipping the check is safe for them
    alone. Placed right after SecurityMiddleware, so they keep its headers.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        from onboarding.views import health  # the views import settings-dependent modules

        self.probes = {"/healthz": health.healthz, "/readyz": health.readyz}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = self.probes.get(request.path_info)
        if probe is not None:
            return probe(request)
        return self.get_response(request)


class BodyLimitMiddleware:
    """Refuses a request body the portal will not read, before anything reads it.

    The portal takes no files: a multipart body is refused (415), since Django would parse its file
    parts outside DATA_UPLOAD_MAX_MEMORY_SIZE (FILE_UPLOAD_HANDLERS, memory only, is the second
    lock). A declared length over DATA_UPLOAD_MAX_MEMORY_SIZE is refused at once (413) instead of
    when a view first reads the form.

    Last in MIDDLEWARE, yet before any read: no middleware reads a body in its ``__call__``, and
    the first read (CsrfViewMiddleware's token check) is a ``process_view``, which runs after every
    middleware's ``__call__``. Last, its pages get the language, the CSRF cookie and the security
    headers (CSP, frame options) of every other page.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.content_type.lower().startswith("multipart/"):
            return errors.unsupported_media_type(request)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and _declared_length(request) > limit:
            return errors.payload_too_large(request)
        return self.get_response(request)


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0  # Django reads no body at all for a length it cannot read
