"""ACA-Py's webhooks: the agent posts each state change to /webhooks/acapy/topic/<topic>/.

The agent is not a browser: these requests carry no CSRF token and no session, and this view never
reads or writes one. They are authenticated by the secret the agent sends in ``x-api-key`` (the
part after "#" of its --webhook-url).
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from onboarding import events, metrics
from onboarding.issuers import acapy

logger = logging.getLogger("onboarding.webhooks")

# ACA-Py's payloads are a few KiB; anything much larger is not one of them.
MAX_BODY_BYTES = 64 * 1024
# Events move only registrations of this backend (another backend's ids may look alike).
BACKEND = acapy.AcaPyIssuer.name


def _apply_connection(payload: dict[str, Any]) -> Any:
    event = acapy.parse_connection_event(payload)
    if event is None:
        return None
    return events.registration_apply_connection_event(
        backend=BACKEND, invitation_msg_id=event.invitation_msg_id, connection_id=event.connection_id, state=event.state,
        detail=event.detail,
    )


def _apply_out_of_band(payload: dict[str, Any]) -> Any:
    event = acapy.parse_out_of_band_event(payload)
    if event is None:
        return None
    return events.registration_apply_connection_event(
        backend=BACKEND, invitation_msg_id=event.invitation_msg_id, connection_id=event.connection_id, state=event.state
    )


def _apply_credential(payload: dict[str, Any]) -> Any:
    event = acapy.parse_credential_event(payload)
    if event is None:
        return None
    return events.registration_apply_credential_event(
        backend=BACKEND, cred_ex_id=event.cred_ex_id, connection_id=event.connection_id, state=event.state, detail=event.detail
    )


TOPICS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "connections": _apply_connection,
    "out_of_band": _apply_out_of_band,
    "issue_credential_v2_0": _apply_credential,
}


def _authorised(request: HttpRequest) -> bool:
    secret = settings.ACAPY_WEBHOOK_SECRET
    given = request.headers.get("x-api-key", "")
    # Without a configured secret nobody is let in (an empty header must not match an empty secret).
    return bool(secret) and hmac.compare_digest(given.encode(), secret.encode())


def _read_payload(request: HttpRequest) -> dict[str, Any] | None:
    """The JSON object posted, or None when it is too large or not a JSON object."""
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return None
    if declared > MAX_BODY_BYTES:
        return None
    body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return None
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


@method_decorator(csrf_exempt, name="dispatch")
class AcaPyWebhookView(View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, topic: str) -> HttpResponse:
        # Topics the flow does not use count as "other": the URL is anyone's to choose, and each
        # label value is a new time series.
        counted = topic if topic in TOPICS else "other"
        if not _authorised(request):
            metrics.webhook_delivery_observed(topic=counted, outcome="unauthorised")
            logger.warning("webhook refused topic=%s: wrong or missing x-api-key", topic[:50])
            return JsonResponse({"error": "unauthorised"}, status=401)
        apply = TOPICS.get(topic)
        if apply is None:
            # The agent reports many topics; those the flow does not need are acknowledged unread.
            metrics.webhook_delivery_observed(topic=counted, outcome="ignored")
            return HttpResponse(status=204)
        payload = _read_payload(request)
        if payload is None:
            metrics.webhook_delivery_observed(topic=counted, outcome="bad_request")
            return JsonResponse({"error": "the body must be a JSON object of at most 64 KiB"}, status=400)
        registration = apply(payload)
        metrics.webhook_delivery_observed(topic=counted, outcome="applied" if registration else "unmatched")
        if registration is not None:
            # Only ids and states: payloads may carry the credential's attributes. Events about
            # others' records (most of what an agent reports) leave no line.
            logger.info("webhook topic=%s state=%s registration=%s", topic, str(payload.get("state", ""))[:30],
                        registration.pk)
        return HttpResponse(status=204)
