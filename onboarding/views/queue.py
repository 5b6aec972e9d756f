"""The line at the door: the page a new visitor sees while the issuer agent is busy, and the JSON
it polls. The decisions are in ``onboarding.admission``."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import ngettext
from django.views import View
from django.views.decorators.cache import never_cache

from onboarding import admission


def place_message(position: int) -> str:
    return ngettext(
        "You are next in line. Your QR code follows in a moment.",
        "You are number %(position)d in line. This page moves on by itself.",
        position,
    ) % {"position": position}


def queue_response(request: HttpRequest, position: int) -> HttpResponse:
    # 200, not 503: the portal works as intended, and a proxy must not swap in its own error page.
    return TemplateResponse(
        request,
        "onboarding/queue.html",
        {
            "position": position,
            "message": place_message(position),
            "status_url": reverse("onboarding:queue_status"),
            "poll_interval_ms": settings.REGISTERFT_POLL_INTERVAL_MS,
        },
    )


@method_decorator(never_cache, name="dispatch")
class QueueStatusView(View):
    """Where the waiting visitor stands; ``next`` is the start page once it is their turn."""

    def get(self, request: HttpRequest) -> JsonResponse:
        position = admission.admission_position(session=request.session)
        if not position:
            return JsonResponse({"state": "moved", "next": reverse("onboarding:start"), "message": "",
                                 "issuer": "ok", "position": 0})
        return JsonResponse({"state": "waiting", "next": None, "message": place_message(position),
                             "issuer": "ok", "position": position})
