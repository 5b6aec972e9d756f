"""What an ACA-Py event does to the portal, however it came: posted as a webhook
(onboarding/views/webhooks.py) or read from the agent's admin websocket (the ``acapy_events``
command). Both give the same topic and payload; here they are told apart from the steps on the way,
applied to the registrations (onboarding/events.py), counted and logged.

``follow_acapy_events`` keeps the websocket open and applies what comes. Events sent while it is
closed are not sent again (webhooks are retried, the websocket's events are not): a step left
without news for REGISTERFT_WEBHOOK_FALLBACK_INTERVAL is then checked with the agent by the
visitor's next status poll, as with a lost webhook.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections

from onboarding import checkin, events, metrics
from onboarding.issuers import acapy
from onboarding.issuers.base import IssuerUnavailable

if TYPE_CHECKING:
    from onboarding.models import Registration

logger = logging.getLogger("onboarding.webhooks")

# Events move only registrations of this backend (another backend's ids may look alike).
BACKEND = acapy.AcaPyIssuer.name


def _apply_connection(payload: dict[str, Any]) -> Registration | None:
    event = acapy.parse_connection_event(payload)
    if event is None:
        return None
    return events.registration_apply_connection_event(
        backend=BACKEND, invitation_msg_id=event.invitation_msg_id, connection_id=event.connection_id, state=event.state,
        detail=event.detail,
    )


def _apply_credential(payload: dict[str, Any]) -> Registration | None:
    event = acapy.parse_credential_event(payload)
    if event is None:
        return None
    return events.registration_apply_credential_event(
        backend=BACKEND, cred_ex_id=event.cred_ex_id, connection_id=event.connection_id, state=event.state, detail=event.detail
    )


def _apply_problem_report(payload: dict[str, Any]) -> Registration | None:
    """A wallet that refuses the door's request sends only a problem report naming the request's
    thread: the door shows the refusal at once instead of waiting for its timeout."""
    thread = payload.get("~thread")
    thread_id = thread.get("thid") if isinstance(thread, dict) else None
    return checkin.checkin_request_declined(thread_id=thread_id) if isinstance(thread_id, str) else None


# The out-of-band invitation's own events (await-response, done, deleted) say nothing the connection's
# do not: its topic is acknowledged unread, as every topic not named here.
TOPICS: dict[str, Callable[[dict[str, Any]], Registration | None]] = {
    "connections": _apply_connection,
    "issue_credential_v2_0": _apply_credential,
    "problem_report": _apply_problem_report,
}


# The events of these topics that report a step on the way (events.acts_on) are acknowledged unread.
STEPS: dict[str, Callable[[dict[str, Any]], acapy.ConnectionEvent | acapy.CredentialEvent | None]] = {
    "connections": acapy.parse_connection_event,
    "issue_credential_v2_0": acapy.parse_credential_event,
}


def counted_topic(topic: str) -> str:
    """The topic as the metrics name it: those the flow does not use count as "other" (a webhook's
    URL is anyone's to choose, and each label value is a new time series)."""
    return topic if topic in TOPICS else "other"


def step_on_the_way(topic: str, payload: dict[str, Any]) -> bool:
    """Whether the event reports a step that moves nothing (a connection or exchange under way)."""
    parse = STEPS.get(topic)
    event = parse(payload) if parse is not None else None
    return event is not None and not events.acts_on(event.state)


def ignored(topic: str) -> None:
    """Count an event acknowledged unread: a topic the flow does not use, or a step on the way."""
    metrics.webhook_delivery_observed(topic=counted_topic(topic), outcome="ignored")


def acapy_event_applied(topic: str, payload: dict[str, Any], *, via: str) -> Registration | None:
    """Apply one of the agent's events; the registration it moved, or None (not ours, a step on
    the way, a topic the flow does not use, nothing changed). ``via`` names the way it came in
    the log line."""
    apply = TOPICS.get(topic)
    if apply is None or step_on_the_way(topic, payload):
        ignored(topic)
        return None
    registration = apply(payload)
    metrics.webhook_delivery_observed(topic=topic, outcome="applied" if registration else "unmatched")
    if registration is not None:
        # Only ids and states: payloads may carry the credential's attributes. Events about
        # others' records (most of what an agent reports) leave no line.
        logger.info("%s topic=%s state=%s registration=%s", via, topic, str(payload.get("state", ""))[:30],
                    registration.pk)
    return registration


# Seconds between attempts to open the event stream again, after the first, second, ... failure.
RETRY_SECONDS = (1, 2, 5, 10, 30)
# Once the events read are applied, the loop waits this long before reading again, so that those
# the agent sends meanwhile (eleven per registration, in bursts) come in one read. Woken for each
# event, the process spent a fifth more CPU time per registration at an event (make bench: 4.9 ms
# against 3.8 with 200 visitors); no page asks again sooner than every half second.
GATHER_SECONDS = 0.05


def follow_acapy_events(stop: threading.Event, *, idle_seconds: float = 1.0) -> None:
    """Apply the agent's events from its websocket until ``stop`` is set, opening it again after a
    break (RETRY_SECONDS apart). Raises ``IssuerRejected`` when the agent refuses the admin key:
    that does not mend itself."""
    # Imported here: only the process that reads the stream loads the websocket client, not
    # gunicorn's workers, each of which must stay under 80 MB (make bench).
    from onboarding.issuers.acapy_stream import AcaPyEventStream

    failures = 0
    while not stop.is_set():
        try:
            with AcaPyEventStream(settings.ACAPY_ADMIN_URL, settings.ACAPY_ADMIN_API_KEY) as stream:
                logger.info("event stream open: %s", stream.url)
                metrics.event_stream_opened()
                failures = 0
                while not stop.is_set():
                    event = stream.next_event(idle_seconds)
                    if event is not None:
                        _apply_streamed(event.topic, event.payload)
                        if not stream.buffered:
                            stop.wait(GATHER_SECONDS)
            metrics.event_stream_closed(broken=False)
        except IssuerUnavailable as err:
            metrics.event_stream_closed(broken=True)
            wait = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
            failures += 1
            logger.warning("event stream: %s; opening it again in %s s", err, wait)
            stop.wait(wait)


def _apply_streamed(topic: str, payload: dict[str, Any]) -> None:
    # As Django does around each request: a connection the database dropped is replaced.
    close_old_connections()
    try:
        acapy_event_applied(topic, payload, via="event")
    except DatabaseError as err:
        # The event is lost, not the stream: the registration's next status poll checks with the
        # agent once the fallback interval has passed.
        logger.error("event stream: topic=%s not applied: %s", topic, err.__class__.__name__)
