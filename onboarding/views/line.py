"""The JSON the line's page polls (the page itself: onboarding/views/queue.py): where the waiting
visitor stands, and when their turn comes, the start page in place.

The page's script asks with ``?in_place=1``. The answer that tells the visitor it is their turn then
starts their registration as the start page would and carries the start page's content, which the
page shows at the start page's address and runs its scripts for (static/onboarding/js/poll.js):
one page load less for each visitor who waited, and the QR code a round trip sooner. An issuer that
fails keeps the visitor on the line's page, which says so and asks again later, as every waiting
page does. Anything else the start page would show (a limit, the window closed, the line again)
is answered as without the question: the page loads the start page, which shows it.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from onboarding import throttle
from onboarding.issuers.base import IssuerError
from onboarding.views import flow
from onboarding.views.outcomes import issuer_error_message
from onboarding.views.queue import IN_PLACE, place_message

START_CONTENT = "onboarding/_start_content.html"


@method_decorator(never_cache, name="dispatch")
class QueueStatusView(View):
    """Where the waiting visitor stands; ``next`` is the start page once it is their turn. A
    client without a place in line is sent to the start page, and nothing is created for it."""

    def get(self, request: HttpRequest) -> JsonResponse:
        in_line = throttle.in_line(session=request.session)
        waiting = throttle.line_status(session=request.session)
        if waiting is not None:
            return waiting_answer(waiting)
        if in_line and request.GET.get(IN_PLACE) == "1":
            return start_in_place(request)
        return moved_answer()


def waiting_answer(waiting: throttle.Waiting) -> JsonResponse:
    return JsonResponse({"state": "waiting", "next": None, "message": place_message(waiting.position),
                         "issuer": "ok", "position": waiting.position, "poll_after_ms": waiting.poll_ms})


def moved_answer(**extra: Any) -> JsonResponse:
    return JsonResponse({"state": "moved", "next": reverse("onboarding:start"), "message": "", "issuer": "ok",
                         "position": 0, **extra})


def start_in_place(request: HttpRequest) -> JsonResponse:
    """The visitor's turn: their registration starts now, and the answer carries the start page."""
    try:
        outcome = flow.start_outcome(request)
    except IssuerError as err:
        # The place went back and the visitor keeps theirs in line: the page says why nothing
        # moves and asks again, less often each time (poll.js).
        return JsonResponse({"state": "waiting", "next": None, "message": issuer_error_message(err),
                             "issuer": "unavailable", "position": 1})
    if isinstance(outcome, HttpResponse):
        return moved_answer()
    view = flow.StartView()
    view.setup(request)
    html = render_to_string(START_CONTENT, view.get_context_data(registration=outcome), request=request)
    return moved_answer(in_place=True, html=html, scripts=[static(script) for script in flow.START_SCRIPTS])
