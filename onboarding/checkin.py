"""The door's rules: a fresh proof request per visitor, what a presentation means, who is let in.

Door views and commands call these ``checkin_*`` functions. A credential is admitted once: the
database says so (a unique constraint on admitted check-ins), so two doors answering at the same
moment cannot both let it in; "admit again" is a record of its own, by a member of staff. Door
requests to the agent never wait in the visitors' line, but each holds one of the throttle's call
slots, like every call to the agent.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from onboarding import throttle
from onboarding.issuers import get_issuer, is_configured
from onboarding.issuers.base import IssuerError
from onboarding.models import CheckIn, DoorRequest, Registration
from onboarding.verifiers import get_verifier
from onboarding.verifiers.base import Answer, Presentation, PresentedCredential, Verifier

logger = logging.getLogger("onboarding.door")

Reason = CheckIn.Reason
Outcome = CheckIn.Outcome
# A name search at the door: at least this many letters, at most this many answers (no list of
# everybody).
SEARCH_MIN_LETTERS = 2
SEARCH_MAX_RESULTS = 5


@dataclass(frozen=True)
class Staff:
    """Who is checking in, and at which door."""

    user: object | None
    name: str
    door: str


def _ask(operation: str, verifier_name: str):
    return throttle.issuer_call(backend=verifier_name, operation=operation)


def _verifier_of(door_request: DoorRequest):
    """The verifier that made the request: each answer is read where its request was made."""
    return get_verifier(door_request.backend)


# --- A fresh request per visitor ----------------------------------------------------------------


def checkin_request_new(*, door: str, backend: str = "") -> DoorRequest:
    """A new proof request at the verifier of ``backend`` ("" the first that can verify), for the
    door to show. Raises ``IssuerError`` (the verifier's family), ``CannotVerify`` where the
    backend cannot verify."""
    verifier = get_verifier(backend)
    with _ask("create_proof_request", verifier.name):
        request = verifier.create_request(label=settings.REGISTERFT_EVENT_NAME)
    return DoorRequest.objects.create(
        backend=verifier.name, door=door[:60], request_id=request.request_id, thread_id=request.thread_id,
        invitation_url=request.url, checked_at=timezone.now(),
    )


def door_request_expires_at(door_request: DoorRequest) -> datetime:
    return door_request.created_at + timedelta(seconds=settings.REGISTERFT_DOOR_REQUEST_TTL)


def _claim_check(door_request: DoorRequest) -> bool:
    """One poll per interval asks the verifier, whatever the number of tabs polling."""
    now = timezone.now()
    interval = _verifier_of(door_request).check_interval
    if interval is None:
        interval = settings.REGISTERFT_DOOR_POLL_INTERVAL_MS * 0.8 / 1000
    due = Q(checked_at__isnull=True) | Q(checked_at__lte=now - timedelta(seconds=interval))
    return DoorRequest.objects.filter(due, pk=door_request.pk, state=DoorRequest.State.PENDING).update(
        checked_at=now
    ) == 1


def checkin_request_progress(*, door_request: DoorRequest, staff: Staff) -> DoorRequest:
    """Bring a door's request up to date: ask the verifier when a check is due, decide once the
    wallet answered, and give up after ``REGISTERFT_DOOR_REQUEST_TTL``. Raises ``IssuerError``
    when the verifier could not be asked (the page says so and keeps asking)."""
    if door_request.state != DoorRequest.State.PENDING:
        return door_request
    expired = timezone.now() > door_request_expires_at(door_request)
    if not expired and not _claim_check(door_request):
        return door_request
    verifier = _verifier_of(door_request)
    with _ask("proof_status", verifier.name):
        presentation = verifier.presentation(request_id=door_request.request_id)
    if presentation.answer == Answer.PENDING:
        if expired:
            return _settle(door_request, DoorRequest.State.NO_ANSWER)
        return door_request
    if presentation.answer == Answer.DECLINED:
        return _settle(door_request, DoorRequest.State.DECLINED)
    return _decide(door_request, presentation, staff)


def checkin_request_declined(*, thread_id: str) -> DoorRequest | None:
    """A wallet's problem report names the request's thread: the door shows the refusal at once."""
    door_request = DoorRequest.objects.filter(thread_id=thread_id, state=DoorRequest.State.PENDING).first() if thread_id else None
    return _settle(door_request, DoorRequest.State.DECLINED) if door_request else None


def _settle(door_request: DoorRequest, state: str, check_in: CheckIn | None = None) -> DoorRequest:
    DoorRequest.objects.filter(pk=door_request.pk, state=DoorRequest.State.PENDING).update(
        state=state, check_in=check_in
    )
    door_request.refresh_from_db()
    return door_request


def _decide(door_request: DoorRequest, presentation: Presentation, staff: Staff) -> DoorRequest:
    """The door's rules, once per request: the one poll that settles the request records the
    check-in, in the same transaction."""
    registration, reason = judge(presentation, verifier=_verifier_of(door_request))
    credential_id = presentation.credential.id if presentation.credential else ""
    with transaction.atomic():
        claimed = DoorRequest.objects.filter(pk=door_request.pk, state=DoorRequest.State.PENDING).update(
            state=DoorRequest.State.DONE
        )
        if claimed:
            if reason:
                check_in = _record(registration, credential_id, Outcome.REFUSED, staff, reason=reason)
            else:
                check_in = admit(registration=registration, staff=staff, method=CheckIn.Method.SCAN)
            DoorRequest.objects.filter(pk=door_request.pk).update(check_in=check_in)
    door_request.refresh_from_db()
    return door_request


def _registration_of(credential: PresentedCredential) -> Registration | None:
    if not credential.id.startswith("urn:uuid:"):
        return None
    try:
        pk = uuid.UUID(credential.id.removeprefix("urn:uuid:"))
    except ValueError:
        return None
    return Registration.objects.filter(pk=pk, state=Registration.State.ISSUED).first()


def judge(presentation: Presentation, *, verifier: Verifier | None = None) -> tuple[Registration | None, str]:
    """The registration a presentation stands for, and the reason to refuse it ("" to admit).

    In this order: a credential of this event at all (its type and issuer), its signatures (the
    agent's word), its expiry, the holder (where the credential names one, the presentation's
    signer must be it: ACA-Py does not compare them), then the registration it names. ``verifier``:
    the one that made the request (None: the door's first)."""
    verifier = verifier or get_verifier()
    credential = presentation.credential
    if credential is None or verifier.credential_type not in credential.types:
        return None, Reason.WRONG_CREDENTIAL
    if credential.issuer not in verifier.trusted_issuers():
        return None, Reason.WRONG_CREDENTIAL
    registration = _registration_of(credential)
    if not presentation.verified:
        return registration, Reason.INVALID_SIGNATURE
    if credential.expires_at is not None and credential.expires_at <= timezone.now():
        return registration, Reason.EXPIRED
    if credential.subject_id and presentation.holder != credential.subject_id:
        return registration, Reason.OTHER_HOLDER
    if registration is None:
        return None, Reason.WRONG_CREDENTIAL
    if registration.withdrawn_at is not None:
        return registration, Reason.WITHDRAWN
    return registration, ""


# --- Letting somebody in ------------------------------------------------------------------------


def _record(
    registration: Registration | None, credential_id: str, outcome: str, staff: Staff, *,
    reason: str = "", method: str = CheckIn.Method.SCAN,
) -> CheckIn:
    check_in = CheckIn.objects.create(
        registration=registration, credential_id=credential_id, outcome=outcome, reason=reason, method=method,
        door=staff.door[:60], staff=staff.user, staff_name=staff.name[:150],
    )
    logger.info("check-in id=%s outcome=%s reason=%s door_staff=%s", check_in.pk, outcome, reason or "-", staff.name)
    return check_in


def admit(*, registration: Registration, staff: Staff, method: str) -> CheckIn:
    """Admit a registration's credential, once: a second admission (at this door or another, at
    the same moment or later) is recorded as "already checked in"."""
    try:
        with transaction.atomic():
            return _record(registration, registration.credential_id, Outcome.ADMITTED, staff, method=method)
    except IntegrityError:
        return _record(registration, registration.credential_id, Outcome.REFUSED, staff, reason=Reason.ALREADY,
                       method=method)


def checkin_manual(*, registration: Registration, staff: Staff) -> CheckIn:
    """A visitor without their phone, found by name and checked in by hand; the record says who."""
    registration.refresh_from_db()
    if registration.withdrawn_at is not None:
        return _record(registration, registration.credential_id, Outcome.REFUSED, staff, reason=Reason.WITHDRAWN,
                       method=CheckIn.Method.MANUAL)
    return admit(registration=registration, staff=staff, method=CheckIn.Method.MANUAL)


def checkin_admit_again(*, check_in: CheckIn, staff: Staff) -> CheckIn:
    """Staff let in a visitor already checked in (back from lunch, or on day two): recorded."""
    return _record(check_in.registration, check_in.credential_id, Outcome.READMITTED, staff, method=check_in.method)


def checkin_first_admission(check_in: CheckIn) -> CheckIn | None:
    """For "already checked in": when and at which door the credential was admitted."""
    return CheckIn.objects.filter(credential_id=check_in.credential_id, outcome=Outcome.ADMITTED).first()


# --- Withdrawal ---------------------------------------------------------------------------------


def registration_withdraw(*, registration: Registration) -> bool:
    """Withdraw a registration: the door refuses its credential from now on, and where the issuer
    can revoke (swiyu's status list) the credential is revoked there too, or its offer cancelled.
    False when it was withdrawn already. The withdrawal stands when the issuer cannot be reached:
    the door's refusal does not depend on it (the log says so, for an admin to revoke by hand)."""
    changed = Registration.objects.filter(pk=registration.pk, withdrawn_at__isnull=True).update(
        withdrawn_at=timezone.now()
    )
    registration.refresh_from_db()
    if changed:
        logger.info("registration id=%s withdrawn revoked=%s", registration.pk, _revoke(registration))
    return bool(changed)


def _revoke(registration: Registration) -> str:
    """Revoke the registration's credential at its issuer: "yes", "no" (the backend cannot, or
    nothing to revoke) or "failed"."""
    if not registration.process_id or not is_configured(registration.backend):
        return "no"
    issuer = get_issuer(registration.backend)
    try:
        with throttle.issuer_call(backend=issuer.name, operation="revoke_credential"):
            return "yes" if issuer.revoke_credential(process_id=registration.process_id) else "no"
    except IssuerError as err:
        logger.warning("registration id=%s not revoked at the issuer: %s", registration.pk, err)
        return "failed"


# --- Reads the door page makes ------------------------------------------------------------------


@dataclass(frozen=True)
class DoorCounts:
    registered: int
    checked_in: int
    refused: int


def door_counts() -> DoorCounts:
    """The live count on the door page."""
    return DoorCounts(
        registered=Registration.objects.filter(state=Registration.State.ISSUED, withdrawn_at__isnull=True).count(),
        checked_in=CheckIn.objects.filter(outcome=Outcome.ADMITTED).count(),
        refused=CheckIn.objects.filter(outcome=Outcome.REFUSED).exclude(reason=Reason.ALREADY).count(),
    )


def checkin_search(*, text: str) -> list[Registration]:
    """Registrations whose details contain ``text`` (at least two letters, a few answers)."""
    words = text.split()
    if len("".join(words)) < SEARCH_MIN_LETTERS:
        return []
    found = Registration.objects.filter(state=Registration.State.ISSUED)
    for word in words:
        # SQLite keeps non-ASCII letters of the JSON escaped ("M\u00fcller"): look for both.
        found = found.filter(Q(attributes__icontains=word) | Q(attributes__icontains=json.dumps(word)[1:-1]))
    return list(found.order_by("created_at")[:SEARCH_MAX_RESULTS])


def first_name(registration: Registration | None) -> str:
    attributes = (registration.attributes if registration else None) or {}
    return str(attributes.get("first_name") or next(iter(attributes.values()), ""))
