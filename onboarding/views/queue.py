"""The line at the door: the page a new visitor sees while the issuer agent is busy, and the JSON
it polls. The decisions are the throttle's (onboarding/throttle.py)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import ngettext
from django.views import View
from django.views.decorators.cache import never_cache

from onboarding import throttle
from onboarding.selectors import wallet_choice_needed


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
            "status_url": reverse("onboarding:queue_status"),
            "poll_interval_ms": waiting.poll_ms,
        },
    )


@method_decorator(never_cache, name="dispatch")
class QueueStatusView(View):
    """Where the waiting visitor stands; ``next`` is the start page once it is their turn. A
    client without a place in line is sent to the start page, and nothing is created for it."""

    def get(self, request: HttpRequest) -> JsonResponse:
        waiting = throttle.line_status(session=request.session)
        if waiting is None:
            return JsonResponse({"state": "moved", "next": reverse("onboarding:start"), "message": "",
                                 "issuer": "ok", "position": 0})
        return JsonResponse({"state": "waiting", "next": None, "message": place_message(waiting.position),
                             "issuer": "ok", "position": waiting.position, "poll_after_ms": waiting.poll_ms})
