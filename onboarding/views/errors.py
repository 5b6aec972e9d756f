"""The portal's own error pages, translated, each with a way back to the start."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template import loader
from django.template.response import TemplateResponse
from django.utils.translation import get_language
from django.utils.translation import gettext as _


def _page(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    response = TemplateResponse(request, "error.html", {"title": title, "message": message}, status=status)
    return response.render()


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(request, 400, _("Bad request"), _("The page could not understand what your browser sent."))


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(request, 403, _("Not allowed"), _("You are not allowed to open this page."))


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return _page(
        request,
        403,
        _("Your session has expired"),
        _("The form was open for too long or cookies are blocked. Please allow cookies and start again."),
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(request, 404, _("Page not found"), _("This page does not exist."))


def demo_wallet_closed(request: HttpRequest) -> HttpResponse:
    return _page(
        request,
        410,
        _("This wallet is closed"),
        _("The demo wallet closes when its registration ends. Please start again for a new one."),
    )


def payload_too_large(request: HttpRequest) -> HttpResponse:
    return _page(request, 413, _("Too much data"), _("Your browser sent more than this page accepts."))


def unsupported_media_type(request: HttpRequest) -> HttpResponse:
    return _page(
        request,
        415,
        _("Files are not accepted"),
        _("This portal takes no files. Please fill in the form again without attaching anything."),
    )


def server_error(request: HttpRequest) -> HttpResponse:
    # Rendered without the request's context processors: whatever failed must not fail again here.
    # The page is translated to the active language, so its lang attribute must say which.
    template = loader.get_template("500.html")
    context = {"LANGUAGE_CODE": get_language(), "demo_mode": "demo" in settings.REGISTERFT_ISSUERS}
    return HttpResponse(template.render(context), status=500)
