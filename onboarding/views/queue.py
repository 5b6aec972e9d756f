"""The line at the door: the page a new visitor sees while the issuer agent is busy (the JSON it
polls: onboarding/views/line.py). The decisions are the throttle's (onboarding/throttle.py)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import ngettext

from onboarding import throttle
from onboarding.selectors import Step, wallet_choice_needed

# The question a line's page asks when it can show the start page in place (onboarding/views/line.py).
IN_PLACE = "in_place"


def place_message(position: int) -> str:
    return ngettext(
        "You are next in line. Your QR code follows in a moment.",
        "You are number %(position)d in line. This page moves on by itself.",
        position,
    ) % {"position": position}


def queue_response(request: HttpRequest, waiting: throttle.Waiting, *, details_saved: bool = False) -> HttpResponse:
    """``details_saved``: the offer-first order, where the visitor meets the line after sending
    their details, which the page says are kept."""
    # 200, not 503: the portal works as intended, and a proxy must not swap in its own error page.
    return TemplateResponse(
        request,
        "onboarding/queue.html",
        {
            "details_saved": details_saved,
            # Nothing was created at the issuer yet: the visitor may still choose the other kind.
            "can_change_wallet": wallet_choice_needed(),
            "position": waiting.position,
            "message": place_message(waiting.position),
            # A page with script that will show the start page when the turn comes asks for it in
            # place (onboarding/views/line.py); the offer-first order goes on to its own page.
            "status_url": reverse("onboarding:queue_status") + ("" if details_saved else f"?{IN_PLACE}=1"),
            # The start page's step: the visitor is at it, and the page may become it in place.
            "step": None if details_saved else Step.START,
            "poll_interval_ms": waiting.poll_ms,
        },
    )
