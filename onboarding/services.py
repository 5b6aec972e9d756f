"""The flow's rules: which step follows which, what an issuer's state means, when to ask the issuer.

Views, webhooks and management commands call these functions, so each rule lives once. Nothing here
reads a request; the session is passed in as the mapping it is. Reads live in ``selectors``; who may
ask the issuer now is the ``throttle``'s to say.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from onboarding import throttle
from onboarding.issuers import UnknownBackend, get_issuer
from onboarding.issuers.base import (
    ConnectionState,
    ConnectionStatus,
    CredentialState,
    CredentialStatus,
    Issuer,
    IssuerError,
    IssuerRejected,
    IssuerTimeout,
    IssuerUnavailable,
)
from onboarding.models import Registration
from onboarding.selectors import (
    CHOICE_SESSION_KEY,
    DONE_SESSION_KEY,
    SESSION_KEY,
    registration_for_session,
    registration_invitation_expires_at,
)
from onboarding.window import RegistrationWindow, registration_window

logger = logging.getLogger("onboarding.flow")

State = Registration.State
Failure = Registration.Failure
# States in which the agent is no longer working on the registration's current step.
SETTLED = (State.CONNECTED, State.ISSUED, State.FAILED)


@contextmanager
def issuer_call(operation: str, *, backend: str) -> Iterator[None]:
    """Every call the flow makes to an issuer holds one of the throttle's call slots."""
    with throttle.issuer_call(backend=backend, operation=operation):
        yield


def issuer_of(registration: Registration) -> Issuer:
    """The backend a registration was made with: every question about it goes there. Raises
    ``IssuerRejected`` when the portal no longer runs that backend (the visitor is told the
    issuer cannot go on, and may start again with a backend it runs)."""
    try:
        return get_issuer(registration.backend)
    except UnknownBackend as err:
        raise IssuerRejected(f"The portal no longer runs the issuer backend {registration.backend!r}") from err


# --- A new visitor at the door ------------------------------------------------------------------


@dataclass(frozen=True)
class Closed:
    window: RegistrationWindow


@dataclass(frozen=True)
class Started:
    registration: Registration


def visitor_start(
    *, session: MutableMapping[str, Any], address: str, label: str, backend: str = ""
) -> Closed | throttle.Waiting | throttle.Limited | Started:
    """The start page's one question: may this visitor have an invitation now?

    Outside the registration window: ``Closed``. A visitor with a usable registration keeps it (a
    reload is free). A new visitor beyond the agent's places waits in line (``Waiting``); waiting
    costs the agent nothing, so only a visitor let in is counted by the rate limits
    (``Limited``). Raises ``IssuerError`` when the issuer cannot create the invitation: the place
    goes back at once and the visitor keeps their place in line. ``backend``: the visitor's chosen
    one (connection-first), "" for the only one.
    """
    window = registration_window()
    if not window.is_open:
        return Closed(window)
    registration = registration_for_session(session)
    if registration is not None:
        registration = registration_expire(registration=registration)
        if registration.state != State.FAILED:
            return Started(registration)
    registration_id = uuid.uuid4()
    try:
        admitted = throttle.line_admit(session=session, address=address, holder=str(registration_id))
    except throttle.RateLimited as err:
        return err.limited
    if isinstance(admitted, throttle.Waiting):
        return admitted
    try:
        throttle.rate_check(action=throttle.Action.INVITATION, session=session, address=address)
        registration = registration_start(
            session=session, label=label, registration_id=registration_id, backend=backend
        )
    except throttle.RateLimited as err:
        throttle.line_failed(session=session, holder=admitted.holder)
        return err.limited
    except IssuerError:
        throttle.line_failed(session=session, holder=admitted.holder)
        raise
    throttle.line_started(session=session)
    return Started(registration)


# --- The visitor's registration -----------------------------------------------------------------


def registration_start(
    *, session: MutableMapping[str, Any], label: str, registration_id: uuid.UUID | None = None, backend: str = ""
) -> Registration:
    """A new registration with an invitation created at the issuer ``backend`` ("" the first the
    portal runs). ``registration_id`` is the id the throttle's place was taken for. Raises
    ``IssuerError``."""
    issuer = get_issuer(backend)
    with issuer_call("create_invitation", backend=issuer.name):
        invitation = issuer.create_invitation(label=label)
    registration = Registration.objects.create(
        id=registration_id or uuid.uuid4(),
        backend=issuer.name,
        invitation_id=invitation.invitation_id,
        invitation_url=invitation.url,
        connection_id=invitation.connection_id,
        checked_at=timezone.now(),
    )
    session[SESSION_KEY] = {"registration": str(registration.pk)}
    session.pop(DONE_SESSION_KEY, None)
    logger.info("registration started id=%s backend=%s", registration.pk, registration.backend)
    return registration


def registration_forget(*, session: MutableMapping[str, Any]) -> None:
    """Detach the visitor's session from its registration and their choice of wallet ("start
    again"); its place at the agent, if it held one, goes to the next visitor."""
    registration = registration_for_session(session)
    if registration is not None:
        throttle.place_release(holder=str(registration.pk))
    session.pop(SESSION_KEY, None)
    session.pop(DONE_SESSION_KEY, None)
    # Where the portal runs several backends, starting again asks for the kind of wallet again.
    session.pop(CHOICE_SESSION_KEY, None)


def registration_complete(*, session: MutableMapping[str, Any], registration: Registration) -> None:
    """The flow is done: its state leaves the session, which remembers only that it succeeded."""
    session.pop(SESSION_KEY, None)
    session[DONE_SESSION_KEY] = str(registration.pk)


# --- State transitions --------------------------------------------------------------------------
# Each transition is a conditional UPDATE, so that a poll, a webhook and a form submit arriving at
# once on different workers cannot move a registration backwards or twice.


def transition(registration: Registration, from_states: tuple[str, ...], **fields: Any) -> Registration:
    fields.setdefault("updated_at", timezone.now())
    changed = Registration.objects.filter(pk=registration.pk, state__in=from_states).update(**fields)
    if not changed:
        registration.refresh_from_db()  # somebody else moved it: see where to
        return registration
    # Written as asked: the instance takes the new values without reading the row back.
    for name, value in fields.items():
        setattr(registration, name, value)
    logger.info("registration id=%s state=%s", registration.pk, registration.state)
    if registration.state in SETTLED:
        throttle.place_release(holder=str(registration.pk))
    return registration


def registration_mark_connected(*, registration: Registration, connection_id: str = "") -> Registration:
    fields: dict[str, Any] = {"state": State.CONNECTED, "connected_at": timezone.now(), "checked_at": timezone.now()}
    if connection_id:
        fields["connection_id"] = connection_id
    return transition(registration, (State.INVITED,), **fields)


def registration_link_opened(*, registration: Registration) -> None:
    """A wallet opened the QR code's link: noted once, while the registration waits for it."""
    if registration.link_opened_at is None and registration.state == State.INVITED:
        registration.link_opened_at = timezone.now()
        Registration.objects.filter(pk=registration.pk, link_opened_at=None).update(
            link_opened_at=registration.link_opened_at)


def registration_mark_issued(*, registration: Registration) -> Registration:
    now = timezone.now()
    return transition(registration, (State.OFFERED,), state=State.ISSUED, issued_at=now, checked_at=now)


def registration_mark_failed(
    *, registration: Registration, failure: str, detail: str = "", from_states: tuple[str, ...] | None = None
) -> Registration:
    from_states = from_states or (State.INVITED, State.CONNECTED, State.OFFERED)
    return transition(
        registration, from_states, state=State.FAILED, failure=failure, failure_detail=detail[:300],
        checked_at=timezone.now(),
    )


def _record_connection_id(registration: Registration, connection_id: str) -> Registration:
    """The agent named the connection before it completed (ACA-Py names it on the wallet's request)."""
    if connection_id and not registration.connection_id:
        if Registration.objects.filter(pk=registration.pk, connection_id="").update(connection_id=connection_id):
            registration.connection_id = connection_id
        else:
            registration.refresh_from_db()  # recorded meanwhile: see which
    return registration


# --- One rule for the issuer's state --------------------------------------------------------------
# A status poll's check and a webhook apply what the issuer said through these two functions.


def registration_apply_connection(*, registration: Registration, status: ConnectionStatus) -> Registration:
    if not (status.state == ConnectionState.CONNECTED and registration.state == State.INVITED):
        # Else the connection's id is written with the new state, in one statement.
        registration = _record_connection_id(registration, status.connection_id)
    if status.state == ConnectionState.CONNECTED:
        return registration_mark_connected(registration=registration, connection_id=status.connection_id)
    if status.state == ConnectionState.FAILED:
        return registration_mark_failed(
            registration=registration, failure=Failure.CONNECTION_FAILED, detail=status.detail,
            from_states=(State.INVITED,),
        )
    return registration


def registration_apply_credential(
    *, registration: Registration, status: CredentialStatus, replaced: bool = False
) -> Registration:
    """``replaced``: the status is of an offer that "send again" replaced; only its acceptance
    still matters (the wallet has got its credential after all)."""
    if status.state == CredentialState.ACCEPTED:
        return registration_mark_issued(registration=registration)
    if status.state == CredentialState.FAILED and not replaced:
        return registration_mark_failed(
            registration=registration, failure=Failure.OFFER_DECLINED, detail=status.detail,
            from_states=(State.OFFERED,),
        )
    return registration


# --- Keeping a registration up to date -------------------------------------------------------


def registration_expire(*, registration: Registration) -> Registration:
    """Mark a registration failed when its current step has run out of time.

    A wallet that connected or accepted just before the deadline still counts: the issuer is asked
    once more before the step is declared expired.
    """
    now = timezone.now()
    if registration.state == State.INVITED and now > registration_invitation_expires_at(registration):
        registration = check_issuer(registration, force=True).registration
        if registration.state == State.INVITED:
            return registration_mark_failed(
                registration=registration, failure=Failure.INVITATION_EXPIRED, from_states=(State.INVITED,)
            )
    elif registration.state == State.CONNECTED and registration.connected_at and now > (
        registration.connected_at + timedelta(seconds=settings.REGISTERFT_DETAILS_TTL)
    ):
        return registration_mark_failed(
            registration=registration, failure=Failure.DETAILS_EXPIRED, from_states=(State.CONNECTED,)
        )
    elif registration.state == State.OFFERED and registration.offered_at and now > (
        registration.offered_at + timedelta(seconds=settings.REGISTERFT_OFFER_TTL)
    ):
        registration = check_issuer(registration, force=True).registration
        if registration.state == State.OFFERED:
            return registration_mark_failed(
                registration=registration, failure=Failure.OFFER_EXPIRED, from_states=(State.OFFERED,)
            )
    return registration


@dataclass(frozen=True)
class Progress:
    """A registration brought up to date, and the issuer's error if asking it failed."""

    registration: Registration
    error: IssuerError | None = None


def _check_interval(registration: Registration) -> float:
    try:
        issuer = get_issuer(registration.backend)
    except UnknownBackend:
        return settings.REGISTERFT_STATUS_CHECK_INTERVAL
    if issuer.check_interval is not None:
        return issuer.check_interval
    if issuer.pushes_state:
        return settings.REGISTERFT_WEBHOOK_FALLBACK_INTERVAL
    return settings.REGISTERFT_STATUS_CHECK_INTERVAL


def _claim_check(registration: Registration) -> bool:
    """True for the one caller who may ask the issuer now; the claim is shared by every worker."""
    interval = _check_interval(registration)
    now = timezone.now()
    if interval <= 0:
        return True
    due_at = now - timedelta(seconds=interval)
    # Most polls fall between two checks, and the record just read says so: skip the UPDATE, for
    # SQLite lets one writer in at a time and every worker's poll would queue for it.
    if registration.checked_at is not None and registration.checked_at > due_at:
        return False
    due = Q(checked_at__isnull=True) | Q(checked_at__lte=due_at)
    return Registration.objects.filter(due, pk=registration.pk).update(checked_at=now) == 1


def check_issuer(registration: Registration, *, force: bool = False) -> Progress:
    if registration.state not in (State.INVITED, State.OFFERED):
        return Progress(registration)
    if not force and not _claim_check(registration):
        # Between two checks a poll still says why nothing moves, so the page keeps backing off.
        return Progress(registration, _remembered_issuer_error(registration))
    try:
        issuer = issuer_of(registration)
        if registration.state == State.INVITED:
            with issuer_call("connection_status", backend=issuer.name):
                status = issuer.connection_status(
                    invitation_id=registration.invitation_id, connection_id=registration.connection_id
                )
            registration = registration_apply_connection(registration=registration, status=status)
        else:
            with issuer_call("credential_status", backend=issuer.name):
                credential = issuer.credential_status(process_id=registration.process_id)
            registration = registration_apply_credential(registration=registration, status=credential)
    except IssuerError as err:
        logger.warning("issuer check failed registration=%s error=%s", registration.pk, err)
        _remember_issuer_error(registration, err)
        return Progress(registration, err)
    cache.delete(_issuer_error_key(registration))
    return Progress(registration)


# The last check's error, until the next check: a per-registration note in the cache (shared by
# every worker with REDIS_URL; per process otherwise, where a poll on another worker may briefly
# report no error, which only shortens that page's back-off).
ISSUER_ERROR_KINDS: dict[str, type[IssuerError]] = {
    "timeout": IssuerTimeout, "unavailable": IssuerUnavailable, "rejected": IssuerError,
}


def _issuer_error_key(registration: Registration) -> str:
    return f"registerft:issuer-error:{registration.pk}"


def _remember_issuer_error(registration: Registration, error: IssuerError) -> None:
    kind = next(name for name, kind in ISSUER_ERROR_KINDS.items() if isinstance(error, kind))
    cache.set(_issuer_error_key(registration), kind, timeout=max(_check_interval(registration) * 2, 1))


def _remembered_issuer_error(registration: Registration) -> IssuerError | None:
    kind = cache.get(_issuer_error_key(registration))
    if kind not in ISSUER_ERROR_KINDS:
        return None
    return ISSUER_ERROR_KINDS[kind]("The issuer's last answer to a state check was an error")


def registration_progress(*, registration: Registration) -> Progress:
    """Bring a registration up to date: its deadlines, and the issuer's state when a check is due.

    Status polls call this: it reads the portal's own record and asks the issuer at most once per
    check interval per registration, whatever the number of polls.
    """
    registration = registration_expire(registration=registration)
    return check_issuer(registration)
