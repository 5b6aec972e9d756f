"""The original portal's agent REST API (``REGISTERFT_ISSUER=agent-rest``).

It has no webhooks: the portal asks for states itself, throttled by the services.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from urllib.parse import quote

from django.conf import settings

from onboarding.issuers.base import (
    ConnectionState,
    ConnectionStatus,
    CredentialOffer,
    CredentialState,
    CredentialStatus,
    HttpIssuer,
    IssuerError,
    IssuerHealth,
    IssuerRejected,
    Invitation,
    invitation_oob,
    require,
)

logger = logging.getLogger("onboarding.issuer")

ESTABLISHED = "established"


class AgentRestIssuer(HttpIssuer):
    name = "agent-rest"

    def __init__(
        self,
        *,
        connection_url: str,
        issuer_url: str,
        credential_definition_id: str,
        attribute_names: dict[str, str],
        accepted_states: Iterable[str],
        failed_states: Iterable[str],
        timeout: float,
        api_key_header: str = "",
        api_key: str = "",
    ):
        headers = {api_key_header: api_key} if api_key and api_key_header else None
        super().__init__(timeout=timeout, headers=headers)
        self.connection_url = connection_url.rstrip("/")
        self.issuer_url = issuer_url.rstrip("/")
        self.credential_definition_id = credential_definition_id
        self.attribute_names = dict(attribute_names)
        self.accepted_states = {state.upper() for state in accepted_states}
        self.failed_states = {state.upper() for state in failed_states}
        self.api_key_header = api_key_header if api_key else ""

    @classmethod
    def from_settings(cls) -> AgentRestIssuer:
        return cls(
            connection_url=settings.AGENT_REST_CONNECTION_URL,
            issuer_url=settings.AGENT_REST_ISSUER_URL,
            credential_definition_id=settings.AGENT_REST_CREDENTIAL_DEFINITION_ID,
            attribute_names=settings.AGENT_REST_ATTRIBUTE_NAMES,
            accepted_states=settings.AGENT_REST_ACCEPTED_STATES,
            failed_states=settings.AGENT_REST_FAILED_STATES,
            timeout=settings.REGISTERFT_ISSUER_TIMEOUT,
            api_key_header=settings.AGENT_REST_API_KEY_HEADER,
            api_key=settings.AGENT_REST_API_KEY,
        )

    def create_invitation(self, *, label: str) -> Invitation:
        data = self.request("POST", f"{self.connection_url}/connection/invitation", operation="create_invitation")
        connection_id = require(data, "connectionId", "create_invitation")
        url = require(data, "invitationUrl", "create_invitation")
        return Invitation(invitation_id=connection_id, url=url, connection_id=connection_id, oob=invitation_oob(url))

    def connection_status(self, *, invitation_id: str, connection_id: str) -> ConnectionStatus:
        connection_id = connection_id or invitation_id
        data = self.request(
            "GET", f"{self.connection_url}/connection/{quote(connection_id, safe='')}", operation="connection_status"
        )
        if not isinstance(data, str):
            raise IssuerRejected("The issuer's connection state is not a string", body=str(data))
        if data.strip().lower() == ESTABLISHED:
            return ConnectionStatus(ConnectionState.CONNECTED, connection_id=connection_id)
        return ConnectionStatus(ConnectionState.PENDING, connection_id=connection_id, detail=data[:100])

    def offer_credential(self, *, connection_id: str, attributes: dict[str, str], reference: str) -> CredentialOffer:
        body = {
            "connectionId": connection_id,
            "credentialDefinitionId": self.credential_definition_id,
            "attributes": {self.attribute_names.get(name, name): value for name, value in attributes.items()},
            "userId": reference,
        }
        data = self.request("POST", f"{self.issuer_url}/issue/process", operation="offer_credential", json=body)
        return CredentialOffer(process_id=require(data, "processId", "offer_credential"))

    def credential_status(self, *, process_id: str) -> CredentialStatus:
        data = self.request(
            "GET",
            f"{self.issuer_url}/issue/process/{quote(process_id, safe='')}/state",
            operation="credential_status",
        )
        if not isinstance(data, str):
            raise IssuerRejected("The issuer's process state is not a string", body=str(data))
        state = data.strip().upper()
        if state in self.accepted_states:
            return CredentialStatus(CredentialState.ACCEPTED, detail=state)
        if state in self.failed_states:
            return CredentialStatus(CredentialState.FAILED, detail=state)
        if state != "IN_PROGRESS":
            # Neither accepted nor failed: the visitor keeps waiting until the offer times out.
            logger.warning("issuer backend=agent-rest unknown process state=%r", state[:50])
        return CredentialStatus(CredentialState.PENDING, detail=state[:100])

    def health(self) -> IssuerHealth:
        """This API has no status route: an unknown connection id must get an answer from it."""
        started = time.monotonic()
        settings = {
            "connection_url": self.connection_url,
            "issuer_url": self.issuer_url,
            "credential_definition_id": self.credential_definition_id,
            "api_key": f"{self.api_key_header}: ****" if self.api_key_header else "(none)",
        }
        try:
            self.request("GET", f"{self.connection_url}/connection/registerft-health-check", operation="health",
                         ok=(200, 404))
        except IssuerRejected as err:
            # Any HTTP answer proves the agent is reachable.
            if err.http_status is None:
                return IssuerHealth(self.name, False, seconds=time.monotonic() - started, detail=err.detail(),
                                    settings=settings)
        except IssuerError as err:
            return IssuerHealth(self.name, False, seconds=time.monotonic() - started, detail=err.detail(),
                                settings=settings)
        return IssuerHealth(self.name, True, seconds=time.monotonic() - started, settings=settings)
