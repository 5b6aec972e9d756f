"""What the issuer agent tells the portal by webhook (ACA-Py), applied to the registrations.

The agent reports every state change, retries failed deliveries and may deliver them out of order.
Each event goes through the same rule as a status poll's check (``services.registration_apply_*``),
whose transitions only move forwards, so a repeated or late event changes nothing. Events about
records the portal does not know (another application's connections, the holder's side, another
backend's registrations) are ignored, and so are the steps on the way (``acts_on``).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from onboarding.issuers.base import ConnectionState, ConnectionStatus, CredentialState, CredentialStatus
from onboarding.models import Registration
from onboarding.selectors import row_where
from onboarding.services import (
    transition,
    registration_apply_connection,
    registration_apply_credential,
)

State = Registration.State
Failure = Registration.Failure


def acts_on(state: ConnectionState | CredentialState) -> bool:
    """Whether an event in this state can move a registration. The flow acts only on a connection
    or an exchange that completed or failed, which the agent reports too; the steps on the way
    (nine of ACA-Py's eleven webhooks per registration) are acknowledged without a query or a write.
    Without news for REGISTERFT_WEBHOOK_FALLBACK_INTERVAL, a status poll asks the agent itself."""
    return state not in (ConnectionState.PENDING, CredentialState.PENDING)


def registration_apply_connection_event(
    *, backend: str, invitation_msg_id: str, connection_id: str, state: ConnectionState, detail: str = ""
) -> Registration | None:
    """Apply a connection's new state; None if it is not ours or changes nothing."""
    if not acts_on(state):
        return None
    registration = None
    if invitation_msg_id:
        registration = _ours(backend, "invitation_id", invitation_msg_id)
    if registration is None and connection_id:
        registration = _ours(backend, "connection_id", connection_id)
    if registration is None:
        return None
    status = ConnectionStatus(state=state, connection_id=connection_id, detail=detail)
    return registration_apply_connection(registration=registration, status=status)


def registration_apply_credential_event(
    *, backend: str, cred_ex_id: str, connection_id: str, state: CredentialState, detail: str = ""
) -> Registration | None:
    """Apply a credential exchange's new state; None if it is not ours or changes nothing."""
    if not acts_on(state):
        return None
    ours = Registration.objects.filter(backend=backend)
    status = CredentialStatus(state=state, detail=detail)
    registration = _ours(backend, "process_id", cred_ex_id) if cred_ex_id else None
    replaced = False
    if registration is None and cred_ex_id:
        registration = _ours(backend, "previous_process_id", cred_ex_id)
        replaced = registration is not None
    if registration is None:
        return _apply_credential_event_before_offer(
            ours.filter(connection_id=connection_id) if connection_id else ours.none(), cred_ex_id, status
        )
    return registration_apply_credential(registration=registration, status=status, replaced=replaced)


def _ours(backend: str, field: str, value: str) -> Registration | None:
    """The backend's registration whose ``field`` is ``value``, read as a status poll reads one
    (``selectors.row_where``: a webhook that moves a registration made three ORM queries)."""
    return row_where(Registration, (("backend", "="), (field, "=")), [backend, value])


def _apply_credential_event_before_offer(
    candidates: QuerySet[Registration], cred_ex_id: str, status: CredentialStatus
) -> Registration | None:
    """A fast wallet's answer may arrive before the agent's answer to the offer itself has been
    stored: the registration is then still "connected" with its offer under way. A final state
    records the offer and its outcome at once; the offer's own late transition then finds the
    registration moved on and changes nothing."""
    registration = candidates.filter(state=State.CONNECTED, offer_started_at__isnull=False, process_id="").first()
    if registration is None:
        return None
    now = timezone.now()
    fields: dict[str, Any] = {"process_id": cred_ex_id, "offered_at": now, "checked_at": now}
    if status.state == CredentialState.ACCEPTED:
        fields.update(state=State.ISSUED, issued_at=now)
    else:
        fields.update(state=State.FAILED, failure=Failure.OFFER_DECLINED, failure_detail=status.detail[:300])
    return transition(registration, (State.CONNECTED,), **fields)
