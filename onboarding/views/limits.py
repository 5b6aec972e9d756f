"""The pages and headers a refused attempt gets, and the address a request is counted against.
The decisions are the throttle's (onboarding/throttle.py)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import ngettext

from onboarding import throttle


def visitor_address(request: HttpRequest) -> str:
    header = settings.REGISTERFT_CLIENT_IP_HEADER
    forwarded = request.headers.get(header, "") if header else ""
    return throttle.client_address(remote_addr=request.META.get("REMOTE_ADDR", ""), forwarded=forwarded)


def limited_message(limited: throttle.Limited) -> str:
    return ngettext(
        "There have been too many attempts. Please wait about a minute and try again.",
        "There have been too many attempts. Please wait about %(minutes)d minutes and try again.",
        limited.minutes,
    ) % {"minutes": limited.minutes}


def with_retry_after(response: HttpResponse, limited: throttle.Limited) -> HttpResponse:
    response["Retry-After"] = str(limited.retry_after)
    return response


def rate_limited_response(request: HttpRequest, limited: throttle.Limited) -> HttpResponse:
    response = TemplateResponse(
        request, "onboarding/rate_limited.html", {"message": limited_message(limited)}, status=429
    )
    return with_retry_after(response, limited)
