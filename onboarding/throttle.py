"""The throttle: who may ask the issuer agent now.

One ACA-Py agent stalls for everybody once about 8 connect-and-issue flows run at once
(docs/admission.md), so the portal keeps three rules here, and nowhere else:
- the line at the door: a new visitor starts (an invitation is created) only while one of the
  line's places at the agent is free, in the order visitors came (a visitor who is not there never
  holds up those who are); how many places: the adaptive limit (onboarding/adaptive.py);
- rate limits, per visitor's session and per client address, on what costs the agent work;
- a bound, ``REGISTERFT_MAX_ISSUER_CALLS``, on the portal's calls to the agent in flight.

All of it rests on one primitive, the ``Lease`` row: a place, a call slot, a rate window and the
line's "served" counter are each a lease, shared by every worker and instance through the database.
A holder that died frees its lease when the lease runs out. Plain functions over the database: no
requests, no templates, no HTTP responses (the views and services map the outcomes).
"""

from __future__ import annotations

import logging
import math
import random
import secrets
import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.utils import timezone

from onboarding import adaptive, leases, metrics
from onboarding.addresses import client_address  # noqa: F401 - the throttle's public name
from onboarding.issuers.base import IssuerUnavailable
from onboarding.models import LineTicket
from onboarding.selectors import count_where, line_tickets_ahead, row_where

logger = logging.getLogger("onboarding.throttle")

SESSION_TICKET_KEY = "registerft_queue"
SESSION_SINCE_KEY = "registerft_queue_since"  # when the visitor joined the line (for the wait metric)
# A random name for the visitor's session that survives a session key change (cycle_key keeps the
# data): "start again" or a committed form must not reset the visitor's counters.
SESSION_IDENTITY_KEY = "registerft_limits"
SERVED_KEY = "line:served"
# A visitor told "your turn" who has not come within this time no longer holds up those behind.
CALL_GRACE_SECONDS = 5
# The waiting page refreshes itself this often without JavaScript (templates/onboarding/queue.html).
NO_SCRIPT_REFRESH_SECONDS = 5
# Slack on top of a page's own interval before its visitor counts as gone (a slow phone network).
PRESENCE_MARGIN_SECONDS = 3
CALL_WAIT_STEP_SECONDS = 0.05
FRONT_POLL_MS = 500
LINE_STEP = 10
PURGE_EVERY_SECONDS = 1


def claim_lease() -> timedelta:
    """How long a request may hold a claim that involves the issuer (a call slot here, the right
    to send an offer in the services): two issuer timeouts and a margin, after which the request
    has surely ended and another may take the claim over."""
    return timedelta(seconds=settings.REGISTERFT_ISSUER_TIMEOUT * 2 + 5)


# --- Places at the agent ------------------------------------------------------------------------
# A new visitor takes a place from the line until the wallet connected (or the invitation failed);
# a visitor sending their details takes one for the offer until the wallet answered. Steps of a
# visitor already in the flow are never held back: they may take the overflow places as well.


def _places(*, overflow: bool = False, limit: int = 0) -> list[str]:
    """The places new visitors take (the first ``limit``), or all that steps in the flow may take."""
    count = settings.REGISTERFT_MAX_IN_PROGRESS * 2 if overflow else limit
    return [f"place:{number}" for number in range(1, count + 1)]


def line_limit() -> int:
    """How many new visitors the agent gets at once now (the adaptive limit, at most the ceiling)."""
    return adaptive.limit_current(ceiling=settings.REGISTERFT_MAX_IN_PROGRESS)


def places_held(*, now: datetime | None = None) -> int:
    """Registrations the agent is working on now, across every worker and instance."""
    return leases.lease_held(_places(overflow=True), now=now or timezone.now())


def place_take_in_flow(*, holder: str) -> None:
    """A place for a step of a visitor already in the flow, if one is free; it goes on anyway."""
    if settings.REGISTERFT_MAX_IN_PROGRESS > 0:
        leases.lease_take(_places(overflow=True), holder=holder, seconds=settings.REGISTERFT_IN_PROGRESS_HOLD)


def place_release(*, holder: str) -> None:
    """The agent is done with this registration's step: its place goes to the next visitor."""
    if settings.REGISTERFT_MAX_IN_PROGRESS > 0:
        leases.lease_release(_places(overflow=True), holder=holder)


# --- The line at the door -----------------------------------------------------------------------


@dataclass(frozen=True)
class Admitted:
    """A place at the agent is this visitor's (held by ``holder``) until ``line_started`` or
    ``line_failed``."""

    holder: str


@dataclass(frozen=True)
class Waiting:
    position: int
    poll_ms: int


@dataclass(frozen=True)
class Limited:
    """A refused attempt, and how many seconds until it may be tried again."""

    retry_after: int

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))


class RateLimited(Exception):
    def __init__(self, limited: Limited):
        super().__init__(f"retry after {limited.retry_after}s")
        self.limited = limited


def line_poll_ms(position: int, *, limit: int = 1) -> int:
    """How often the waiting page asks: twice a second for the first two and the front half of the
    limit's reach (the flows move in waves, and a wave's places come free together), so that a freed
    place is taken within a fraction of a second, and less the further back a visitor stands (one
    page interval more every ``LINE_STEP`` places, up to half the ticket's lifetime), so that a
    thousand waiting cost little."""
    base = settings.REGISTERFT_POLL_INTERVAL_MS
    if position <= max(2, limit // 2):
        return min(base, FRONT_POLL_MS)
    return min(base * (1 + position // LINE_STEP), max(base, settings.REGISTERFT_QUEUE_TICKET_TTL * 500))


def _presence(poll_ms: int) -> timedelta:
    return timedelta(seconds=max(poll_ms / 1000, NO_SCRIPT_REFRESH_SECONDS) + PRESENCE_MARGIN_SECONDS)


def _ticket(session: MutableMapping[str, Any], now: datetime) -> LineTicket | None:
    """The visitor's live ticket, read as the registration is (selectors.row_where): building the
    ORM's query cost a third of a line poll's CPU time in-process, running it far less."""
    token = session.get(SESSION_TICKET_KEY)
    if not isinstance(token, str):
        return None
    return row_where(LineTicket, (("token", "="), ("expires_at", ">")), [token, now])


def _holding_up(ticket: LineTicket | None, *, now: datetime, places: int) -> int:
    """Visitors ahead who are present and not past their call, counted up to ``places``: one
    bounded query whatever the length of the line."""
    return line_tickets_ahead(before=ticket.id if ticket is not None else None, present_after=now,
                              called_after=now - timedelta(seconds=CALL_GRACE_SECONDS), up_to=places)


@dataclass(frozen=True)
class _Line:
    """The line's shared state, read in one query: its limit, the places held, those served."""

    limit: int
    held: int
    served: int

    @classmethod
    def read(cls, now: datetime) -> _Line:
        # A poll asks for all three; one query instead of three is half a poll's cost (measured
        # in-process: each ORM query costs about 0.25 ms to build, the SQL itself far less).
        places = _places(overflow=True)
        rows = leases.lease_read([adaptive.LIMIT_KEY, SERVED_KEY, *places], now=now)
        ceiling = settings.REGISTERFT_MAX_IN_PROGRESS
        return cls(limit=adaptive.limit_of(rows.get(adaptive.LIMIT_KEY, (0, False))[0], ceiling=ceiling),
                   held=sum(rows.get(key, (0, False))[1] for key in places),
                   served=rows.get(SERVED_KEY, (0, False))[0])

    def turn(self, ticket: LineTicket | None, now: datetime) -> bool:
        """Whether a free place is this visitor's: fewer present visitors ahead than free places."""
        free = self.limit - self.held
        return free > 0 and _holding_up(ticket, now=now, places=free) < free

    def position(self, ticket: LineTicket) -> int:
        return max(1, ticket.id - self.served)


def _seen(ticket: LineTicket, *, now: datetime, poll_ms: int, **fields: Any) -> None:
    """Keep the ticket alive and its visitor present; written only when it would soon lapse."""
    presence = _presence(poll_ms)
    if not fields and ticket.present_until > now + presence / 2:
        return
    fields.update(present_until=now + presence, expires_at=now + timedelta(seconds=settings.REGISTERFT_QUEUE_TICKET_TTL))
    LineTicket.objects.filter(pk=ticket.pk).update(**fields)


_purged_at: list[datetime] = []


def _line_purge(now: datetime) -> None:
    """Tickets given up for a whole lifetime leave the line, as served: at most once a second in
    each process, so that a poll is a write only now and then."""
    if _purged_at and abs((now - _purged_at[0]).total_seconds()) < PURGE_EVERY_SECONDS:
        return
    _purged_at[:] = [now]
    deleted, _ = LineTicket.objects.filter(expires_at__lte=now).delete()
    leases.counter_add(SERVED_KEY, deleted)


def _new_ticket(session: MutableMapping[str, Any], *, address: str, now: datetime) -> LineTicket:
    cap = settings.REGISTERFT_LINE_PER_ADDRESS
    # Counted in the database, up to the cap: hundreds behind one address would otherwise bring
    # every one of their tickets' rows into each new visitor's request.
    if cap and count_where(LineTicket, (("address", "="), ("expires_at", ">")), [address, now], up_to=cap) >= cap:
        logger.warning("line refused a place: per-address cap reached")
        raise RateLimited(Limited(retry_after=settings.REGISTERFT_QUEUE_TICKET_TTL))
    _line_purge(now)
    ticket = LineTicket.objects.create(
        token=secrets.token_urlsafe(24), address=address, present_until=now + _presence(line_poll_ms(1)),
        expires_at=now + timedelta(seconds=settings.REGISTERFT_QUEUE_TICKET_TTL),
    )
    session[SESSION_TICKET_KEY] = ticket.token
    session[SESSION_SINCE_KEY] = time.time()
    return ticket


def line_admit(*, session: MutableMapping[str, Any], address: str, holder: str) -> Admitted | Waiting:
    """A new visitor at the start page: a place at the agent now, or a place in line.

    Raises ``RateLimited`` when the visitor's address already holds its share of the line."""
    if settings.REGISTERFT_MAX_IN_PROGRESS <= 0:
        return Admitted(holder)
    now = timezone.now()
    ticket = _ticket(session, now)
    line = _Line.read(now)
    # Only the first ``limit`` places are for new visitors: however many workers admit at once,
    # no more than the current limit start together.
    if line.turn(ticket, now) and leases.lease_take(
        _places(limit=line.limit), holder=holder, seconds=settings.REGISTERFT_IN_PROGRESS_HOLD
    ):
        return Admitted(holder)
    if ticket is None:
        ticket = _new_ticket(session, address=address, now=now)
    position = line.position(ticket)
    poll_ms = line_poll_ms(position, limit=line.limit)
    # The visitor came: whatever call they had is answered, and they are present again.
    _seen(ticket, now=now, poll_ms=poll_ms, called_at=None)
    return Waiting(position, poll_ms)


def in_line(*, session: MutableMapping[str, Any]) -> bool:
    """Whether the visitor took a place in line (and has not started since)."""
    return isinstance(session.get(SESSION_TICKET_KEY), str)


def line_status(*, session: MutableMapping[str, Any]) -> Waiting | None:
    """The waiting page's question: None when it is the visitor's turn (or they have no place in
    line: the start page decides), else where they stand. A few queries, whatever the crowd; a
    visitor without a ticket gets nothing written."""
    now = timezone.now()
    ticket = _ticket(session, now)
    if ticket is None:
        return None
    _line_purge(now)
    line = _Line.read(now)
    if line.turn(ticket, now):
        if ticket.called_at is None:
            _seen(ticket, now=now, poll_ms=line_poll_ms(1), called_at=now)
        return None
    position = line.position(ticket)
    poll_ms = line_poll_ms(position, limit=line.limit)
    _seen(ticket, now=now, poll_ms=poll_ms)
    return Waiting(position, poll_ms)


def line_started(*, session: MutableMapping[str, Any]) -> None:
    """The admitted visitor's invitation exists: they leave the line, served."""
    since = session.pop(SESSION_SINCE_KEY, None)
    metrics.line_wait_observed(seconds=max(0.0, time.time() - since) if isinstance(since, float) else 0.0)
    token = session.pop(SESSION_TICKET_KEY, None)
    if isinstance(token, str):
        deleted, _ = LineTicket.objects.filter(token=token).delete()
        leases.counter_add(SERVED_KEY, deleted)


def line_failed(*, session: MutableMapping[str, Any], holder: str) -> None:
    """Starting failed (the issuer, or a rate limit): the place goes back at once, and the visitor
    keeps their place in line without holding anybody up until they come back."""
    place_release(holder=holder)
    token = session.get(SESSION_TICKET_KEY)
    if isinstance(token, str):
        LineTicket.objects.filter(token=token).update(present_until=timezone.now(), called_at=None)


def line_length(*, now: datetime | None = None) -> int:
    """Visitors waiting (for the metrics and the admin; not on a visitor's path)."""
    return LineTicket.objects.filter(expires_at__gt=now or timezone.now()).count()


# --- Rate limits --------------------------------------------------------------------------------


class Action(StrEnum):
    INVITATION = "invitation"
    OFFER = "offer"


# The settings holding each action's (count, seconds) rate, per session and per address.
RATE_SETTINGS: dict[Action, tuple[str, str]] = {
    Action.INVITATION: ("REGISTERFT_RATE_INVITATIONS_PER_SESSION", "REGISTERFT_RATE_INVITATIONS_PER_ADDRESS"),
    Action.OFFER: ("REGISTERFT_RATE_OFFERS_PER_SESSION", "REGISTERFT_RATE_OFFERS_PER_ADDRESS"),
}


def rate_hit(*, key: str, rate: tuple[int, int] | None, now: datetime | None = None) -> Limited | None:
    """Count one attempt for ``key`` in its fixed window; a ``Limited`` when it goes over ``rate``
    (count, seconds)."""
    if rate is None:
        return None
    limit, seconds = rate
    now = now or timezone.now()
    epoch = int(now.timestamp())
    start = epoch - epoch % seconds
    ends = datetime.fromtimestamp(start + seconds, tz=dt_timezone.utc)
    if leases.lease_count(f"rate:{key}:{start}", until=ends, now=now) <= limit:
        return None
    return Limited(retry_after=max(1, math.ceil((ends - now).total_seconds())))


def rate_check(*, action: Action, session: MutableMapping[str, Any], address: str) -> None:
    """Count one attempt at ``action`` for the visitor's session, then for their address; raises
    ``RateLimited``. A session over its limit is refused without touching its address's counter, so
    that one noisy visitor does not use up the allowance of everyone behind the same address. A
    refused attempt writes nothing to the session."""
    identity = session.get(SESSION_IDENTITY_KEY)
    known = isinstance(identity, str) and bool(identity)
    if not known:
        identity = secrets.token_urlsafe(16)
    session_setting, address_setting = RATE_SETTINGS[action]
    limited = rate_hit(key=f"{action}:session:{identity}", rate=getattr(settings, session_setting))
    scope = "session"
    if limited is None:
        limited = rate_hit(key=f"{action}:address:{address}", rate=getattr(settings, address_setting))
        scope = "address"
    if limited is not None:
        # The address is left out of the log: it is the visitor's, and scope and action suffice.
        logger.warning("rate limit reached action=%s scope=%s retry_after=%ss", action, scope, limited.retry_after)
        raise RateLimited(limited)
    if not known:
        session[SESSION_IDENTITY_KEY] = identity


# --- Calls in flight ----------------------------------------------------------------------------


@contextmanager
def issuer_call(*, backend: str, operation: str) -> Iterator[None]:
    """Hold one of ``REGISTERFT_MAX_ISSUER_CALLS`` call slots for an issuer operation; a call that
    finds none free waits, briefly and with jitter, up to the issuer timeout, then fails as
    ``IssuerUnavailable`` (the visitor's page says so and tries again). 0: no bound. Each call's
    latency (or failure to answer) drives the line's adaptive limit."""
    count = settings.REGISTERFT_MAX_ISSUER_CALLS
    keys = [f"call:{number}" for number in random.sample(range(1, count + 1), count)]  # noqa: S311 - spreads callers
    holder = secrets.token_hex(16)
    deadline = time.monotonic() + settings.REGISTERFT_ISSUER_TIMEOUT
    while keys and leases.lease_take(keys, holder=holder, seconds=claim_lease().total_seconds()) is None:
        if time.monotonic() >= deadline:
            metrics.issuer_call_observed(backend=backend, operation=operation, outcome="busy", seconds=0.0)
            raise IssuerUnavailable(
                f"The portal's calls to the issuer are at their bound; {operation} found no free place in time"
            )
        time.sleep(CALL_WAIT_STEP_SECONDS * (1 + random.random()))  # noqa: S311
    started, answered = time.monotonic(), True
    try:
        yield
    except IssuerUnavailable:
        answered = False  # a refusal (IssuerRejected) is an answer: the agent was not overloaded
        raise
    finally:
        if keys:
            leases.lease_release(keys, holder=holder)
        adaptive.limit_observe(operation=operation, seconds=time.monotonic() - started, ok=answered,
                               ceiling=settings.REGISTERFT_MAX_IN_PROGRESS)
