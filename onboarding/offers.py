"""The credential offer: sent once whatever the number of submits, and sent again on request.

Two submits of the details form, or two clicks on "send the offer again", must never send two
offers: each claims the registration first with a conditional UPDATE, a claim that lapses once its
request has surely ended (``throttle.claim_lease``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import MutableMapping
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from onboarding import throttle
from onboarding.issuers import get_issuer
from onboarding.issuers.base import CredentialOffer, IssuerError, IssuerRejected
from onboarding.models import Registration
from onboarding.rules import registration_stuck_at
from onboarding.selectors import DONE_SESSION_KEY, SESSION_KEY, registration_for_session
from onboarding.services import Closed, Started, check_issuer, issuer_call, issuer_of, transition
from onboarding.window import registration_window

logger = logging.getLogger("onboarding.flow")

State = Registration.State


class OfferInProgress(Exception):
    """Another request of the same visitor is sending the offer right now."""


def credential_offer(
    *, registration: Registration, attributes: dict[str, str], session: MutableMapping[str, Any], address: str
) -> Registration:
    """Ask the issuer to offer the credential with these attributes over the visitor's connection.

    The attributes are stored first, so that nothing typed is lost if the issuer fails. Raises
    ``throttle.RateLimited`` (the visitor's or their address's offers are over their rate),
    ``IssuerError`` (the registration stays connected) or ``OfferInProgress``.
    """
    now = timezone.now()
    # Claim the offer: two submits of the same form must not send two offers. The claim comes
    # before the rate limits: a double click's further submits wait for the first one's offer
    # without counting as attempts of their own.
    claimed = (
        Registration.objects.filter(pk=registration.pk, state=State.CONNECTED)
        .filter(Q(offer_started_at__isnull=True) | Q(offer_started_at__lt=offer_claim_given_up_before(now)))
        .update(offer_started_at=now, attributes=attributes, updated_at=now)
    )
    if not claimed:
        raise OfferInProgress
    try:
        throttle.rate_check(action=throttle.Action.OFFER, session=session, address=address)
    except throttle.RateLimited:
        Registration.objects.filter(pk=registration.pk, offer_started_at=now).update(offer_started_at=None)
        raise
    offer = _send_claimed_offer(registration, attributes)
    return transition(
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
    return now - throttle.claim_lease()


def _send_claimed_offer(registration: Registration, attributes: dict[str, str]) -> CredentialOffer:
    """Ask the issuer for the offer this request has claimed, holding a place at the agent while
    the wallet answers; if it fails, release the claim and the place so that the visitor's next
    try may send it."""
    throttle.place_take_in_flow(holder=str(registration.pk))
    try:
        issuer = issuer_of(registration)
        with issuer_call("offer_credential", backend=issuer.name):
            return issuer.offer_credential(
                connection_id=registration.connection_id, attributes=attributes, reference=str(registration.pk)
            )
    except IssuerError:
        throttle.place_release(holder=str(registration.pk))
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


def credential_reoffer(
    *, registration: Registration, session: MutableMapping[str, Any], address: str
) -> Registration:
    """Send the offer again over the same connection, for a wallet that never showed the first.

    The issuer is asked first: a visitor whose wallet already accepted is never offered a second
    credential. Raises ``throttle.RateLimited``, ``IssuerError`` (nothing changes) or
    ``OfferInProgress``.
    """
    if not credential_offer_due_again(registration):
        return registration
    throttle.rate_check(action=throttle.Action.OFFER, session=session, address=address)
    progress = check_issuer(registration, force=True)
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
    return transition(
        registration,
        (State.OFFERED,),
        process_id=offer.process_id,
        previous_process_id=registration.process_id,
        offered_at=timezone.now(),
        checked_at=timezone.now(),
        **_offer_link_fields(offer),
    )


def _offer_link_fields(offer: CredentialOffer) -> dict[str, str]:
    """What an offer-first offer brings along: the link the wallet opens, and its PIN."""
    return {"invitation_url": offer.url, "offer_pin": offer.pin} if offer.url else {}


# --- The offer-first order (OpenID4VCI): details, then one QR code with the offer --------------
# The issuer is first asked when the offer is made, so that is where the visitor meets the line:
# the details are kept at once, and the offer is made when a place at the issuer is theirs.


def visitor_details(
    *, session: MutableMapping[str, Any], attributes: dict[str, str], backend: str = ""
) -> Closed | Started:
    """The details form of the offer-first order: the details are kept, and nothing else is done
    here; the offer's page asks for the offer when the visitor's turn comes (``visitor_offer``),
    so that a reload or an issuer's failure never loses what was typed. ``backend``: the
    visitor's chosen one, "" for the only one."""
    window = registration_window()
    if not window.is_open:
        return Closed(window)
    registration = registration_for_session(session)
    if registration is None or registration.state == State.FAILED:
        registration = Registration.objects.create(
            id=uuid.uuid4(), backend=get_issuer(backend).name, state=State.SAVED, attributes=attributes,
            invitation_id="", invitation_url="",
        )
        session[SESSION_KEY] = {"registration": str(registration.pk)}
        session.pop(DONE_SESSION_KEY, None)
        logger.info("registration saved id=%s backend=%s", registration.pk, registration.backend)
    elif registration.state == State.SAVED:
        # Sent again after an issuer's failure: the latest details count.
        Registration.objects.filter(pk=registration.pk, state=State.SAVED).update(
            attributes=attributes, updated_at=timezone.now()
        )
        registration.refresh_from_db()
    return Started(registration)


def visitor_offer(
    *, session: MutableMapping[str, Any], address: str, registration: Registration
) -> throttle.Waiting | throttle.Limited | Started:
    """Saved details get their offer once a place at the issuer is theirs; until then the visitor
    waits in line (``Waiting``). Only an offer actually asked for counts against the rate limits
    on new registrations. Raises ``IssuerError`` (the place goes back, the visitor keeps their
    place in line and their details) and ``OfferInProgress``."""
    if registration.state != State.SAVED:
        return Started(registration)
    try:
        admitted = throttle.line_admit(session=session, address=address, holder=str(registration.pk))
    except throttle.RateLimited as err:
        return err.limited
    if isinstance(admitted, throttle.Waiting):
        return admitted
    try:
        throttle.rate_check(action=throttle.Action.INVITATION, session=session, address=address)
        registration = credential_offer_first(registration=registration)
    except throttle.RateLimited as err:
        throttle.line_failed(session=session, holder=admitted.holder)
        return err.limited
    except (IssuerError, OfferInProgress):
        throttle.line_failed(session=session, holder=admitted.holder)
        raise
    throttle.line_started(session=session)
    return Started(registration)


def credential_offer_first(*, registration: Registration) -> Registration:
    """Ask the issuer for the offer of saved details: a link for the wallet (the QR code) and,
    where the issuer uses one, a PIN. Claimed first, as ``credential_offer`` is."""
    now = timezone.now()
    claimed = (
        Registration.objects.filter(pk=registration.pk, state=State.SAVED)
        .filter(Q(offer_started_at__isnull=True) | Q(offer_started_at__lt=offer_claim_given_up_before(now)))
        .update(offer_started_at=now, updated_at=now)
    )
    if not claimed:
        raise OfferInProgress
    offer = _send_claimed_offer(registration, dict(registration.attributes or {}))
    if not offer.url:
        # A backend of the offer-first order that gave no link: nothing a wallet could scan.
        Registration.objects.filter(pk=registration.pk).update(offer_started_at=None)
        throttle.place_release(holder=str(registration.pk))
        raise IssuerRejected("The issuer's offer carries no link for the wallet")
    return transition(
        registration, (State.SAVED,), state=State.OFFERED, process_id=offer.process_id,
        offered_at=timezone.now(), checked_at=timezone.now(), **_offer_link_fields(offer),
    )
