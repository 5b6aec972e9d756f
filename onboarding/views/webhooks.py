"""The issuers' webhooks. ACA-Py posts each state change to /webhooks/acapy/topic/<topic>/;
swiyu's issuer posts its callbacks (WebhookCallback) to /webhooks/swiyu/.

The agent is not a browser: these requests carry no CSRF token and no session, and this view never
reads or writes one. They are authenticated by the secret the agent sends in ``x-api-key`` (the
part after "#" of its --webhook-url). Each backend has its own endpoint and key, answers 404 when
the portal does not run it, and moves only its own backend's registrations.
"""

from __future__ import annotations

import hmac
import io
import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from onboarding import agent_events, events, metrics
from onboarding.issuers import is_configured, swiyu
from onboarding.issuers.base import json_object

logger = logging.getLogger("onboarding.webhooks")

# Where ACA-Py posts its webhooks (onboarding/urls.py): ACAPY_PATH + "<topic>/".
ACAPY_PATH = "/webhooks/acapy/topic/"
# ACA-Py's payloads are a few KiB; anything much larger is not one of them.
MAX_BODY_BYTES = 64 * 1024
BACKEND = agent_events.BACKEND


def _ignored(topic: str) -> HttpResponse:
    agent_events.ignored(topic)
    return HttpResponse(status=204)


class StepsOnTheWay:
    """WSGI middleware around the portal (registerft/wsgi.py): an ACA-Py webhook that the flow
    does not act on (a step on the way, a topic it does not use) is answered 204 before Django
    makes a request of it. These are nine of the agent's eleven webhooks per registration; through
    Django's handler and middleware each cost 0.39 ms of CPU under gunicorn, answered here 0.28 ms
    (make bench's wrk). Every other request, and every refusal, goes on to Django and the view,
    with the body it had."""

    def __init__(self, application: Callable[..., Iterable[bytes]]):
        self.application = application

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if _acknowledged_early(environ):
            start_response("204 No Content", [])
            return []
        return self.application(environ, start_response)


def _acknowledged_early(environ: dict[str, Any]) -> bool:
    path = environ.get("PATH_INFO", "")
    if environ.get("REQUEST_METHOD") != "POST" or not path.startswith(ACAPY_PATH):
        return False
    topic, slash, rest = path[len(ACAPY_PATH):].partition("/")
    if not topic or not slash or rest or not is_configured(BACKEND):
        return False
    if not _key_matches(environ.get("HTTP_X_API_KEY", ""), settings.ACAPY_WEBHOOK_SECRET):
        return False
    if topic in agent_events.TOPICS:
        payload = _environ_payload(environ)
        if payload is None or not agent_events.step_on_the_way(topic, payload):
            return False
    agent_events.ignored(topic)
    return True


def _environ_payload(environ: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON object posted, read from the WSGI stream, which is put back for Django to read
    again; None (and the stream untouched) when its length is missing or over the limit."""
    try:
        declared = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    if not 0 < declared <= MAX_BODY_BYTES:
        return None
    try:
        body = environ["wsgi.input"].read(declared)
    except OSError:
        return None  # the client went away mid-body: Django and the view answer what is left
    environ["wsgi.input"] = io.BytesIO(body)
    return json_object(body)


def _key_matches(given: str, secret: str) -> bool:
    # Without a configured secret nobody is let in (an empty header must not match an empty secret).
    return bool(secret) and hmac.compare_digest(given.encode(), secret.encode())


def _authorised(request: HttpRequest) -> bool:
    return _key_matches(request.headers.get("x-api-key", ""), settings.ACAPY_WEBHOOK_SECRET)


def _read_payload(request: HttpRequest) -> dict[str, Any] | None:
    """The JSON object posted, or None when it is too large or not a JSON object."""
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return None
    if declared > MAX_BODY_BYTES:
        return None
    try:
        body = request.read(MAX_BODY_BYTES + 1)
    except UnreadablePostError:
        return None  # the client went away mid-body: a 400, not a traceback
    if len(body) > MAX_BODY_BYTES:
        return None
    return json_object(body)


@method_decorator(csrf_exempt, name="dispatch")
class AcaPyWebhookView(View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, topic: str) -> HttpResponse:
        counted = agent_events.counted_topic(topic)
        if not is_configured(BACKEND):
            raise Http404("The portal runs no ACA-Py backend.")  # its key may linger in the settings
        if not _authorised(request):
            metrics.webhook_delivery_observed(topic=counted, outcome="unauthorised")
            logger.warning("webhook refused topic=%s: wrong or missing x-api-key", topic[:50])
            return JsonResponse({"error": "unauthorised"}, status=401)
        if topic not in agent_events.TOPICS:
            # The agent reports many topics; those the flow does not need are acknowledged unread.
            return _ignored(topic)
        payload = _read_payload(request)
        if payload is None:
            metrics.webhook_delivery_observed(topic=counted, outcome="bad_request")
            return JsonResponse({"error": "the body must be a JSON object of at most 64 KiB"}, status=400)
        agent_events.acapy_event_applied(topic, payload, via="webhook")
        return HttpResponse(status=204)


def _swiyu_authorised(request: HttpRequest) -> bool:
    """swiyu's issuer sends the key in the header named by its WEBHOOK_API_KEY_HEADER, which
    docs/swiyu.md sets to x-api-key."""
    return _key_matches(request.headers.get("x-api-key", ""), settings.SWIYU_WEBHOOK_KEY)


@method_decorator(csrf_exempt, name="dispatch")
class SwiyuWebhookView(View):
    """A status change of an offer or credential (``event_type`` VC_STATUS_CHANGED, the new status
    in ``event``, the management id in ``subject_id``), applied as a poll's check would be. Other
    events (ISSUANCE_ERROR: the wallet may try again) are acknowledged; the status says the rest."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        if not is_configured(swiyu.SwiyuIssuer.name):
            raise Http404("The portal runs no swiyu backend.")
        if not _swiyu_authorised(request):
            metrics.webhook_delivery_observed(topic="swiyu", outcome="unauthorised")
            logger.warning("webhook refused topic=swiyu: wrong or missing x-api-key")
            return JsonResponse({"error": "unauthorised"}, status=401)
        payload = _read_payload(request)
        if payload is None:
            metrics.webhook_delivery_observed(topic="swiyu", outcome="bad_request")
            return JsonResponse({"error": "the body must be a JSON object of at most 64 KiB"}, status=400)
        subject, status = payload.get("subject_id"), payload.get("event")
        if payload.get("event_type") != "VC_STATUS_CHANGED" or not isinstance(subject, str) or not subject:
            metrics.webhook_delivery_observed(topic="swiyu", outcome="ignored")
            return HttpResponse(status=204)
        if not isinstance(status, str) or status not in swiyu.STATUSES:
            metrics.webhook_delivery_observed(topic="swiyu", outcome="bad_request")
            return JsonResponse({"error": "unknown status"}, status=400)
        state = swiyu.credential_state(status)
        if not events.acts_on(state):
            metrics.webhook_delivery_observed(topic="swiyu", outcome="ignored")
            return HttpResponse(status=204)
        registration = events.registration_apply_credential_event(
            backend=swiyu.SwiyuIssuer.name, cred_ex_id=subject, connection_id="", state=state, detail=status,
        )
        metrics.webhook_delivery_observed(topic="swiyu", outcome="applied" if registration else "unmatched")
        logger.info("webhook topic=swiyu state=%s registration=%s", status, getattr(registration, "pk", None))
        return HttpResponse(status=204)
