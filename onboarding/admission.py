"""A line at the door: new visitors wait while the issuer agent has enough registrations in
progress.

One ACA-Py agent with its default wallet stalls for everybody (admin calls answer 504 after 10 s)
once about 8 connect-and-issue flows run at once. The portal therefore lets a new visitor start
(creating an invitation) only while fewer than ``REGISTERFT_MAX_IN_PROGRESS`` registrations are
in progress at the agent; the others get a place in line and a page that moves on by itself.
Visitors already in the flow are never held back: only the start page of a visitor without a
registration asks for admission.

Everything is in the database, so every worker and instance sees one line: the tickets are rows,
and each decision first updates the one ``AdmissionGate`` row, whose lock lets one decision
through at a time.
"""

from __future__ import annotations

import secrets
from collections.abc import MutableMapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from onboarding import services
from onboarding.models import AdmissionGate, AdmissionTicket, Registration

SESSION_TICKET_KEY = "registerft_queue"
State = Registration.State
GATE_ID = 1
# The seen_at of a waiting ticket is refreshed at most this often: a poll is then a read, not a
# write, most of the time.
SEEN_REFRESH_SECONDS = 5


def admission_enabled() -> bool:
    return settings.REGISTERFT_MAX_IN_PROGRESS > 0


def admission_needed(*, session: MutableMapping[str, Any]) -> bool:
    """Only a visitor who has no registration yet is new; everybody else is in the flow."""
    return admission_enabled() and services.registration_for_session(session) is None


def in_progress_count(*, now: datetime) -> int:
    """Registrations the agent is working on, and slots given to visitors about to start."""
    hold = now - timedelta(seconds=settings.REGISTERFT_IN_PROGRESS_HOLD)
    # An offer being sent: as long as credential_offer's own claim on it lasts.
    sending = services.offer_claim_given_up_before(now)
    registrations = Registration.objects.filter(
        Q(state=State.INVITED, created_at__gt=hold)
        | Q(state=State.CONNECTED, offer_started_at__gt=sending)
        | Q(state=State.OFFERED, offered_at__gt=hold)
    ).count()
    # An admitted visitor's invitation is being created: the slot is taken until it exists.
    starting = AdmissionTicket.objects.filter(admitted_at__gt=sending).count()
    return registrations + starting


def _alive_since(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.REGISTERFT_QUEUE_TICKET_TTL)


def _ahead_of(ticket: AdmissionTicket, *, now: datetime) -> int:
    """Visitors still waiting who came before this ticket."""
    earlier = Q(created_at__lt=ticket.created_at) | Q(created_at=ticket.created_at, pk__lt=ticket.pk)
    return (
        AdmissionTicket.objects.filter(earlier, admitted_at__isnull=True, seen_at__gt=_alive_since(now))
        .count()
    )


def _ticket(session: MutableMapping[str, Any], *, now: datetime) -> AdmissionTicket:
    """The visitor's ticket, kept alive; a new one at the end of the line if there is none."""
    token = session.get(SESSION_TICKET_KEY)
    ticket = AdmissionTicket.objects.filter(token=token).first() if isinstance(token, str) else None
    if ticket is not None and ticket.seen_at > _alive_since(now):
        if ticket.seen_at < now - timedelta(seconds=SEEN_REFRESH_SECONDS):
            AdmissionTicket.objects.filter(pk=ticket.pk).update(seen_at=now)
            ticket.seen_at = now
        return ticket
    if ticket is not None:
        ticket.delete()  # given up long ago: this visitor is back, at the end of the line
    admission_purge(now=now)
    ticket = AdmissionTicket.objects.create(token=secrets.token_urlsafe(24), created_at=now, seen_at=now)
    session[SESSION_TICKET_KEY] = ticket.token
    return ticket


def _lock_gate() -> None:
    """Inside a transaction: wait for, then hold, the one gate row until the transaction ends."""
    if AdmissionGate.objects.filter(pk=GATE_ID).update(decisions=F("decisions") + 1):
        return
    try:
        with transaction.atomic():
            AdmissionGate.objects.create(pk=GATE_ID)
    except IntegrityError:
        pass  # another worker created it at the same moment; the update below locks it
    AdmissionGate.objects.filter(pk=GATE_ID).update(decisions=F("decisions") + 1)


def admission_request(*, session: MutableMapping[str, Any]) -> int:
    """0 when this visitor may start now (their slot is then taken), else their place in line."""
    if not admission_needed(session=session):
        return 0
    now = timezone.now()
    ticket = _ticket(session, now=now)
    if ticket.admitted_at is not None:
        return 0
    with transaction.atomic():
        _lock_gate()
        ahead = _ahead_of(ticket, now=now)
        if in_progress_count(now=now) + ahead >= settings.REGISTERFT_MAX_IN_PROGRESS:
            return ahead + 1
        AdmissionTicket.objects.filter(pk=ticket.pk).update(admitted_at=now)
    return 0


def admission_position(*, session: MutableMapping[str, Any]) -> int:
    """The waiting page's question: 0 when the visitor may go to the start page now, else their
    place in line. It decides nothing; the start page does."""
    if not admission_needed(session=session):
        return 0
    now = timezone.now()
    ticket = _ticket(session, now=now)
    if ticket.admitted_at is not None:
        return 0
    ahead = _ahead_of(ticket, now=now)
    if in_progress_count(now=now) + ahead >= settings.REGISTERFT_MAX_IN_PROGRESS:
        return ahead + 1
    return 0


def admission_done(*, session: MutableMapping[str, Any], started: bool) -> None:
    """The admitted visitor's invitation exists (``started``), and counts in its own right; or
    creating it failed, and the visitor keeps their place at the front without holding a slot."""
    token = session.get(SESSION_TICKET_KEY)
    if not isinstance(token, str):
        return
    if started:
        AdmissionTicket.objects.filter(token=token).delete()
        session.pop(SESSION_TICKET_KEY, None)
    else:
        AdmissionTicket.objects.filter(token=token).update(admitted_at=None)


def admission_purge(*, now: datetime | None = None) -> int:
    """Remove tickets given up long ago (called now and then; cheap)."""
    now = now or timezone.now()
    old = now - timedelta(seconds=settings.REGISTERFT_QUEUE_TICKET_TTL * 10)
    deleted, _ = AdmissionTicket.objects.filter(seen_at__lt=old).delete()
    return deleted
