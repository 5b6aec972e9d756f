"""The flow's rules: which step follows which, what an issuer's state means, when to ask the issuer.

Views, webhooks and management commands call these functions, so each rule lives once. Nothing here
reads a request; the session is passed in as the mapping it is.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import uuid
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connections, router
from django.db.models import Q
from django.utils import timezone

from onboarding.call_slots import claim_lease
from onboarding.issuers import get_issuer
from onboarding.issuers.base import (
    ConnectionState,
    CredentialOffer,
    CredentialState,
    IssuerError,
    IssuerTimeout,
    IssuerUnavailable,
    invitation_oob,
)
from onboarding.models import Registration
from onboarding.rules import registration_stuck_at

logger = logging.getLogger("onboarding.flow")

SESSION_KEY = "registerft"
DONE_SESSION_KEY = "registerft_done"

State = Registration.State
Failure = Registration.Failure


# --- Steps ------------------------------------------------------------------------------------


class Step:
    START = "start"
    CHECK_CONNECTION = "check_connection"
    NAME = "name"
    LOADING = "loading"
    SUCCESS = "success"


def registration_step(registration: Registration | None) -> str:
    """The step (URL name) where a visitor with this registration belongs."""
    if registration is None:
        return Step.START
    if registration.state == State.INVITED:
        return Step.CHECK_CONNECTION
    if registration.state == State.CONNECTED:
        return Step.NAME
    if registration.state == State.OFFERED:
        return Step.LOADING
    if registration.state == State.ISSUED:
        return Step.SUCCESS
    # A failure is shown on the waiting page of the step that failed, with "start again".
    return Step.LOADING if registration.offered_at else Step.CHECK_CONNECTION


# --- The visitor's registration -----------------------------------------------------------------


def registration_for_session(session: MutableMapping[str, Any]) -> Registration | None:
    flow = session.get(SESSION_KEY)
    if not isinstance(flow, dict) or "registration" not in flow:
        return None
    return _registration_by_pk(flow["registration"])


def _registration_by_pk(pk: Any) -> Registration | None:
    """One registration by its id, for every status poll and page of the flow.

    Written out as SQL because compiling the ORM's query cost more than running it: a fifth of a
    status poll's CPU time (make bench). The row still becomes a model instance with every field's
    conversion from the database.
    """
    try:
        key = uuid.UUID(str(pk))
    except ValueError:
        return None
    connection = connections[router.db_for_read(Registration)]
    meta = Registration._meta
    table = connection.ops.quote_name(meta.db_table)
    column = connection.ops.quote_name(meta.pk.column)
    found = Registration.objects.raw(
        f"SELECT * FROM {table} WHERE {column} = %s",  # noqa: S608  # nosec B608 - names from the model, the value bound
        [meta.pk.get_db_prep_value(key, connection)],
    )
    return next(iter(found), None)


def registration_invitation_expires_at(registration: Registration) -> datetime:
    return registration.created_at + timedelta(seconds=settings.REGISTERFT_INVITATION_TTL)


def registration_start(*, session: MutableMapping[str, Any], label: str) -> Registration:
    """The visitor's registration, with an invitation created at the issuer if there is none
    still usable. Reloading the start page reuses a valid invitation.

    Raises ``IssuerError`` when the issuer cannot create an invitation.
    """
    registration = registration_for_session(session)
    if registration is not None:
        registration = registration_expire(registration=registration)
        if registration.state != State.FAILED:
            return registration
    invitation = get_issuer().create_invitation(label=label)
    registration = Registration.objects.create(
        backend=get_issuer().name,
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
    """Detach the visitor's session from its registration ("start again")."""
    session.pop(SESSION_KEY, None)
    session.pop(DONE_SESSION_KEY, None)


def registration_complete(*, session: MutableMapping[str, Any], registration: Registration) -> None:
    """The flow is done: its state leaves the session, which remembers only that it succeeded."""
    session.pop(SESSION_KEY, None)
    session[DONE_SESSION_KEY] = str(registration.pk)


def registration_completed_in(session: MutableMapping[str, Any]) -> bool:
    return bool(session.get(DONE_SESSION_KEY))


# --- State transitions --------------------------------------------------------------------------
# Each transition is a conditional UPDATE, so that a poll, a webhook and a form submit arriving at
# once on different workers cannot move a registration backwards or twice.


def _transition(registration: Registration, from_states: tuple[str, ...], **fields: Any) -> Registration:
    fields.setdefault("updated_at", timezone.now())
    changed = Registration.objects.filter(pk=registration.pk, state__in=from_states).update(**fields)
    registration.refresh_from_db()
    if changed:
        logger.info("registration id=%s state=%s", registration.pk, registration.state)
    return registration


def registration_mark_connected(*, registration: Registration, connection_id: str = "") -> Registration:
    fields: dict[str, Any] = {"state": State.CONNECTED, "connected_at": timezone.now(), "checked_at": timezone.now()}
    if connection_id:
        fields["connection_id"] = connection_id
    return _transition(registration, (State.INVITED,), **fields)


def registration_mark_issued(*, registration: Registration) -> Registration:
    now = timezone.now()
    return _transition(registration, (State.OFFERED,), state=State.ISSUED, issued_at=now, checked_at=now)


def registration_mark_failed(
    *, registration: Registration, failure: str, detail: str = "", from_states: tuple[str, ...] | None = None
) -> Registration:
    from_states = from_states or (State.INVITED, State.CONNECTED, State.OFFERED)
    return _transition(
        registration, from_states, state=State.FAILED, failure=failure, failure_detail=detail[:300],
        checked_at=timezone.now(),
    )


def registration_mark_heard(*, registration: Registration) -> None:
    """The issuer told us about this registration (webhook): no need to ask it for a while."""
    Registration.objects.filter(pk=registration.pk).update(checked_at=timezone.now())


# --- Keeping a registration up to date -------------------------------------------------------


def registration_expire(*, registration: Registration) -> Registration:
    """Mark a registration failed when its current step has run out of time.

    A wallet that connected or accepted just before the deadline still counts: the issuer is asked
    once more before the step is declared expired.
    """
    now = timezone.now()
    if registration.state == State.INVITED and now > registration_invitation_expires_at(registration):
        registration = _check_issuer(registration, force=True).registration
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
        registration = _check_issuer(registration, force=True).registration
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


def _check_interval() -> float:
    issuer = get_issuer()
    if issuer.check_interval is not None:
        return issuer.check_interval
    if issuer.pushes_state:
        return settings.REGISTERFT_WEBHOOK_FALLBACK_INTERVAL
    return settings.REGISTERFT_STATUS_CHECK_INTERVAL


def _claim_check(registration: Registration) -> bool:
    """True for the one caller who may ask the issuer now; the claim is shared by every worker."""
    interval = _check_interval()
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


def _check_issuer(registration: Registration, *, force: bool = False) -> Progress:
    if registration.state not in (State.INVITED, State.OFFERED):
        return Progress(registration)
    if not force and not _claim_check(registration):
        # Between two checks a poll still says why nothing moves, so the page keeps backing off.
        return Progress(registration, _remembered_issuer_error(registration))
    issuer = get_issuer()
    try:
        if registration.state == State.INVITED:
            status = issuer.connection_status(
                invitation_id=registration.invitation_id, connection_id=registration.connection_id
            )
            if status.state == ConnectionState.CONNECTED:
                registration = registration_mark_connected(
                    registration=registration, connection_id=status.connection_id
                )
            elif status.state == ConnectionState.FAILED:
                registration = registration_mark_failed(
                    registration=registration, failure=Failure.CONNECTION_FAILED, detail=status.detail,
                    from_states=(State.INVITED,),
                )
            elif status.connection_id and not registration.connection_id:
                Registration.objects.filter(pk=registration.pk, connection_id="").update(
                    connection_id=status.connection_id
                )
        else:
            credential = issuer.credential_status(process_id=registration.process_id)
            if credential.state == CredentialState.ACCEPTED:
                registration = registration_mark_issued(registration=registration)
            elif credential.state == CredentialState.FAILED:
                registration = registration_mark_failed(
                    registration=registration, failure=Failure.OFFER_DECLINED, detail=credential.detail,
                    from_states=(State.OFFERED,),
                )
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
    cache.set(_issuer_error_key(registration), kind, timeout=max(_check_interval() * 2, 1))


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
    return _check_issuer(registration)


# --- The credential -------------------------------------------------------------------------


class OfferInProgress(Exception):
    """Another request of the same visitor is sending the offer right now."""


def credential_offer(*, registration: Registration, attributes: dict[str, str]) -> Registration:
    """Ask the issuer to offer the credential with these attributes over the visitor's connection.

    The attributes are stored first, so that nothing typed is lost if the issuer fails. Raises
    ``IssuerError`` (the registration stays connected) or ``OfferInProgress``.
    """
    now = timezone.now()
    # Claim the offer: two submits of the same form must not send two offers.
    claimed = (
        Registration.objects.filter(pk=registration.pk, state=State.CONNECTED)
        .filter(Q(offer_started_at__isnull=True) | Q(offer_started_at__lt=offer_claim_given_up_before(now)))
        .update(offer_started_at=now, attributes=attributes, updated_at=now)
    )
    if not claimed:
        raise OfferInProgress
    offer = _send_claimed_offer(registration, attributes)
    return _transition(
        registration,
        (State.CONNECTED,),
        state=State.OFFERED,
        process_id=offer.process_id,
        offered_at=timezone.now(),
        checked_at=timezone.now(),
    )


def offer_claim_given_up_before(now: datetime) -> datetime:
    """A claim on sending an offer made before this belongs to a request that has surely ended:
    another may take it over."""
    return now - claim_lease()


def _send_claimed_offer(registration: Registration, attributes: dict[str, str]) -> CredentialOffer:
    """Ask the issuer for the offer this request has claimed; if it fails, release the claim so
    that the visitor's next try may send it."""
    try:
        return get_issuer().offer_credential(
            connection_id=registration.connection_id, attributes=attributes, reference=str(registration.pk)
        )
    except IssuerError:
        Registration.objects.filter(pk=registration.pk).update(offer_started_at=None)
        registration.refresh_from_db()
        raise


def credential_offer_due_again(registration: Registration) -> bool:
    """Whether the visitor may ask for the offer to be sent again: it has waited for the wallet
    longer than ``REGISTERFT_STUCK_AFTER``."""
    return (
        registration.state == State.OFFERED
        and registration.offered_at is not None
        and timezone.now() >= registration_stuck_at(registration)
    )


def credential_reoffer(*, registration: Registration) -> Registration:
    """Send the offer again over the same connection, for a wallet that never showed the first.

    The issuer is asked first: a visitor whose wallet already accepted is never offered a second
    credential. Raises ``IssuerError`` (nothing changes) or ``OfferInProgress``.
    """
    if not credential_offer_due_again(registration):
        return registration
    progress = _check_issuer(registration, force=True)
    if progress.error is not None:
        raise progress.error
    registration = progress.registration
    if registration.state != State.OFFERED:
        return registration
    now = timezone.now()
    # Claimed when no offer is being sent: none started, one started no later than the current
    # offer was made (it was that offer), or one whose sender has surely given up.
    claimed = (
        Registration.objects.filter(pk=registration.pk, state=State.OFFERED, process_id=registration.process_id)
        .filter(
            Q(offer_started_at__isnull=True)
            | Q(offer_started_at__lte=registration.offered_at)
            | Q(offer_started_at__lt=offer_claim_given_up_before(now))
        )
        .update(offer_started_at=now)
    )
    if not claimed:
        raise OfferInProgress
    offer = _send_claimed_offer(registration, dict(registration.attributes or {}))
    logger.info("registration id=%s offer sent again", registration.pk)
    return _transition(
        registration,
        (State.OFFERED,),
        process_id=offer.process_id,
        previous_process_id=registration.process_id,
        offered_at=timezone.now(),
        checked_at=timezone.now(),
    )


# --- The invitation ---------------------------------------------------------------------------


def invitation_payload(*, registration: Registration) -> dict[str, Any] | None:
    """The invitation message carried in the invitation URL's ``oob`` (or ``c_i``) parameter, for
    a wallet that asks the short link for JSON; None when the URL carries none."""
    encoded = invitation_oob(registration.invitation_url)
    if not encoded:
        return None
    try:
        decoded = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        payload = json.loads(decoded)
    except (binascii.Error, ValueError):
        logger.warning("registration=%s invitation URL carries an unreadable invitation", registration.pk)
        return None
    return payload if isinstance(payload, dict) else None


# --- Issuer webhooks (ACA-Py) ------------------------------------------------------------------
# The agent reports every state change, retries failed deliveries and may deliver them out of
# order. Each event goes through the conditional transitions above, which only move forwards, so a
# repeated or late event changes nothing. Events about records the portal does not know (another
# application's connections, the holder's side) are ignored.


def registration_apply_connection_event(
    *, invitation_msg_id: str, connection_id: str, state: ConnectionState, detail: str = ""
) -> Registration | None:
    """Apply a connection's (or out-of-band invitation's) new state; None if it is not ours."""
    registration = None
    if invitation_msg_id:
        registration = Registration.objects.filter(invitation_id=invitation_msg_id).first()
    if registration is None and connection_id:
        registration = Registration.objects.filter(connection_id=connection_id).first()
    if registration is None:
        return None
    registration_mark_heard(registration=registration)
    if connection_id and not registration.connection_id:
        Registration.objects.filter(pk=registration.pk, connection_id="").update(connection_id=connection_id)
        registration.refresh_from_db()
    if state == ConnectionState.CONNECTED:
        return registration_mark_connected(registration=registration, connection_id=connection_id)
    if state == ConnectionState.FAILED:
        return registration_mark_failed(
            registration=registration, failure=Failure.CONNECTION_FAILED, detail=detail, from_states=(State.INVITED,)
        )
    return registration


def registration_apply_credential_event(
    *, cred_ex_id: str, connection_id: str, state: CredentialState, detail: str = ""
) -> Registration | None:
    """Apply a credential exchange's new state; None if it is not ours."""
    registration = Registration.objects.filter(process_id=cred_ex_id).first()
    if registration is None:
        earlier = Registration.objects.filter(previous_process_id=cred_ex_id).first() if cred_ex_id else None
        if earlier is not None:
            # An offer replaced by "send again": only its acceptance still matters.
            registration_mark_heard(registration=earlier)
            if state == CredentialState.ACCEPTED:
                return registration_mark_issued(registration=earlier)
            return earlier
        return _apply_credential_event_before_offer(
            cred_ex_id=cred_ex_id, connection_id=connection_id, state=state, detail=detail
        )
    registration_mark_heard(registration=registration)
    if state == CredentialState.ACCEPTED:
        return registration_mark_issued(registration=registration)
    if state == CredentialState.FAILED:
        return registration_mark_failed(
            registration=registration, failure=Failure.OFFER_DECLINED, detail=detail, from_states=(State.OFFERED,)
        )
    return registration


def _apply_credential_event_before_offer(
    *, cred_ex_id: str, connection_id: str, state: CredentialState, detail: str
) -> Registration | None:
    """A fast wallet's answer may arrive before the agent's answer to the offer itself has been
    stored: the registration is then still "connected" with its offer under way. A final state
    records the offer and its outcome at once; the offer's own late transition then finds the
    registration moved on and changes nothing."""
    if not connection_id:
        return None
    registration = Registration.objects.filter(
        connection_id=connection_id, state=State.CONNECTED, offer_started_at__isnull=False, process_id=""
    ).first()
    if registration is None or state == CredentialState.PENDING:
        return registration
    now = timezone.now()
    fields: dict[str, Any] = {"process_id": cred_ex_id, "offered_at": now, "checked_at": now}
    if state == CredentialState.ACCEPTED:
        fields.update(state=State.ISSUED, issued_at=now)
    else:
        fields.update(state=State.FAILED, failure=Failure.OFFER_DECLINED, failure_detail=detail[:300])
    return _transition(registration, (State.CONNECTED,), **fields)
