"""The page shown instead of the start page outside the registration window."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from onboarding.window import RegistrationWindow, WindowState


def registration_closed(request: HttpRequest, window: RegistrationWindow) -> HttpResponse:
    # 200, not an error status: nothing is wrong, and a proxy must not swap in its own error page.
    return TemplateResponse(
        request,
        "onboarding/registration_closed.html",
        {
            "not_yet_open": window.state == WindowState.NOT_YET_OPEN,
            "opens_at": window.opens_at,
            "closes_at": window.closes_at,
        },
    )
