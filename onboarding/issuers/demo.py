"""The embedded demo issuer: needs no agent, issues nothing real.

Its connections and credentials live in the portal's database (so it works under several gunicorn
workers), and its invitations point at the portal's own demo wallet page, where a person accepts
the connection and then the credential.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse

from onboarding.issuers.base import (
    ConnectionState,
    ConnectionStatus,
    CredentialOffer,
    CredentialState,
    CredentialStatus,
    Flow,
    Issuer,
    IssuerHealth,
    IssuerRejected,
    Invitation,
    invitation_oob,
)
from onboarding.models import DemoConnection, DemoCredential

CREDENTIAL_STATES = {
    DemoCredential.State.OFFERED: CredentialState.PENDING,
    DemoCredential.State.ACCEPTED: CredentialState.ACCEPTED,
    DemoCredential.State.DECLINED: CredentialState.FAILED,
}


class DemoIssuer(Issuer):
    name = "demo"
    # Its state is a query of the portal's own database: no need to spare it.
    check_interval = 0.0

    def __init__(self, *, flow: Flow = Flow.CONNECTION_FIRST):
        self.flow = flow

    @classmethod
    def from_settings(cls) -> DemoIssuer:
        """Its state is the portal's own database; ``REGISTERFT_DEMO_FLOW`` picks the order it
        shows (offer-first: the OpenID4VCI order, with the demo wallet page as the offer's link)."""
        return cls(flow=Flow(settings.REGISTERFT_DEMO_FLOW))

    def create_invitation(self, *, label: str) -> Invitation:
        connection = DemoConnection.objects.create(label=label[:200])
        # A path of the portal: the view turns it into an absolute URL a phone can open.
        url = reverse("onboarding:demo_wallet", kwargs={"token": connection.token})
        return Invitation(
            invitation_id=str(connection.id), url=url, connection_id=str(connection.id), oob=invitation_oob(url)
        )

    def _connection(self, connection_id: str) -> DemoConnection:
        try:
            return DemoConnection.objects.get(pk=connection_id)
        except (DemoConnection.DoesNotExist, ValidationError, ValueError) as err:
            raise IssuerRejected("The demo issuer knows no such connection") from err

    def connection_status(self, *, invitation_id: str, connection_id: str) -> ConnectionStatus:
        connection = self._connection(connection_id or invitation_id)
        if connection.state == DemoConnection.State.ACTIVE:
            return ConnectionStatus(ConnectionState.CONNECTED, connection_id=str(connection.id))
        return ConnectionStatus(ConnectionState.PENDING, connection_id=str(connection.id))

    def offer_credential(self, *, connection_id: str, attributes: dict[str, str], reference: str) -> CredentialOffer:
        if self.flow == Flow.OFFER_FIRST:
            return self._offer_first(attributes)
        connection = self._connection(connection_id)
        if connection.state != DemoConnection.State.ACTIVE:
            raise IssuerRejected("The demo wallet has not accepted the connection")
        credential = DemoCredential.objects.create(
            connection=connection, attributes=dict(attributes), credential_id=f"urn:uuid:{reference}",
            valid_until=settings.REGISTERFT_CREDENTIAL_VALID_UNTIL,
        )
        return CredentialOffer(process_id=str(credential.id))

    def _offer_first(self, attributes: dict[str, str]) -> CredentialOffer:
        """The offer is its own link: the demo wallet page of a connection made for it alone."""
        connection = DemoConnection.objects.create(label="offer", state=DemoConnection.State.ACTIVE)
        credential = DemoCredential.objects.create(connection=connection, attributes=dict(attributes))
        url = reverse("onboarding:demo_wallet", kwargs={"token": connection.token})
        return CredentialOffer(process_id=str(credential.id), url=url)

    def credential_status(self, *, process_id: str) -> CredentialStatus:
        try:
            credential = DemoCredential.objects.get(pk=process_id)
        except (DemoCredential.DoesNotExist, ValidationError, ValueError) as err:
            raise IssuerRejected("The demo issuer knows no such credential") from err
        return CredentialStatus(CREDENTIAL_STATES[credential.state], detail=credential.state)

    def health(self) -> IssuerHealth:
        return IssuerHealth(self.name, True, version="embedded", detail="The demo issuer issues nothing real.")


# --- The demo wallet's side -------------------------------------------------------------------


def demo_wallet_get(*, token: str) -> DemoConnection | None:
    return DemoConnection.objects.filter(token=token).first()


def demo_wallet_accept_connection(*, connection: DemoConnection) -> None:
    DemoConnection.objects.filter(pk=connection.pk).update(state=DemoConnection.State.ACTIVE)


def demo_wallet_answer_offer(*, connection: DemoConnection, credential_id: str, accept: bool) -> bool:
    """Accept or decline one pending offer on this connection; False when there is none."""
    new_state = DemoCredential.State.ACCEPTED if accept else DemoCredential.State.DECLINED
    try:
        with transaction.atomic():
            updated = DemoCredential.objects.filter(
                pk=credential_id, connection=connection, state=DemoCredential.State.OFFERED
            ).update(state=new_state)
    except (ValidationError, ValueError):  # not an id at all: no such offer
        return False
    return updated == 1
