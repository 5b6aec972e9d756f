"""ACA-Py's admin API (``REGISTERFT_ISSUER=acapy``), tested against acapy-agent 1.7.0.

The agent pushes every state change to the portal's webhook, so the portal asks it itself only as
a rare fallback. A connection is made through an out-of-band invitation with DID exchange 1.1; the
credential goes out with issue-credential 2.0: a W3C credential signed by the portal's did:key
(``ld_proof``), or an AnonCreds credential where a ledger holds its definition.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

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

DIDEXCHANGE = "https://didcomm.org/didexchange/1.1"
CREDENTIAL_PREVIEW_TYPE = "issue-credential/2.0/credential-preview"

# The issuer's connection record: `state` (ACA-Py's own words) and `rfc23_state` (DID exchange's).
# "response" means the issuer has sent its answer, not that the wallet has read it. An offer sent
# then can reach a wallet that still holds the connection as "request-sent": ACA-Py's holder drops
# it ("No connection ... found for credential offer"), seen with 30 visitors at once
# (tests/integration/test_crowd.py). So the portal waits for "active": the wallet's DID exchange
# "complete" message, or any later message of the wallet, which follows the response at once.
CONNECTED_STATES = frozenset({"active", "completed"})
FAILED_CONNECTION_STATES = frozenset({"abandoned", "error"})
PENDING_CONNECTION_STATES = frozenset({"init", "invitation", "request", "response", "start"})

# The issuer's credential exchange record (issue-credential 2.0).
ACCEPTED_CREDENTIAL_STATES = frozenset({"done"})
FAILED_CREDENTIAL_STATES = frozenset({"abandoned"})
PENDING_CREDENTIAL_STATES = frozenset(
    {"proposal-sent", "proposal-received", "offer-sent", "request-received", "credential-issued"}
)


def connection_state(record: dict[str, Any]) -> ConnectionState | None:
    """What a connection record means for the visitor; None for a state ACA-Py has not documented."""
    state = str(record.get("state") or "")
    rfc23 = str(record.get("rfc23_state") or "")
    if state in FAILED_CONNECTION_STATES or rfc23 == "abandoned":
        return ConnectionState.FAILED
    if state in CONNECTED_STATES or rfc23 == "completed":
        return ConnectionState.CONNECTED
    if state in PENDING_CONNECTION_STATES:
        return ConnectionState.PENDING
    return None


def credential_state(record: dict[str, Any]) -> CredentialState | None:
    """What a credential exchange record means for the visitor; None for an unknown state."""
    state = str(record.get("state") or "")
    if state in ACCEPTED_CREDENTIAL_STATES:
        return CredentialState.ACCEPTED
    if state in FAILED_CREDENTIAL_STATES:
        return CredentialState.FAILED
    if state in PENDING_CREDENTIAL_STATES:
        return CredentialState.PENDING
    return None


# --- Webhook payloads -------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionEvent:
    """A ``connections`` webhook: which invitation or connection, and its state."""

    invitation_msg_id: str
    connection_id: str
    state: ConnectionState
    detail: str = ""


@dataclass(frozen=True)
class CredentialEvent:
    """An ``issue_credential_v2_0`` webhook of the issuer's side of an exchange."""

    cred_ex_id: str
    connection_id: str
    state: CredentialState
    detail: str = ""


def _text(payload: dict[str, Any], key: str) -> str:
    value = payload.get(key)
    return value if isinstance(value, str) else ""


def parse_connection_event(payload: dict[str, Any]) -> ConnectionEvent | None:
    """A ``connections`` payload as an event; None when it says nothing the portal can use."""
    state = connection_state(payload)
    invitation_msg_id = _text(payload, "invitation_msg_id")
    connection_id = _text(payload, "connection_id")
    if state is None or not (invitation_msg_id or connection_id):
        return None
    return ConnectionEvent(invitation_msg_id, connection_id, state, _text(payload, "error_msg")[:300])


def parse_credential_event(payload: dict[str, Any]) -> CredentialEvent | None:
    """An ``issue_credential_v2_0`` payload as an event; the holder's side and unknown states are None."""
    if payload.get("role") not in (None, "issuer"):
        return None
    state = credential_state(payload)
    cred_ex_id = _text(payload, "cred_ex_id")
    if state is None or not cred_ex_id:
        return None
    return CredentialEvent(cred_ex_id, _text(payload, "connection_id"), state, _text(payload, "error_msg")[:300])


# --- The backend ------------------------------------------------------------------------------


def _w3c_moment(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")



class AcaPyIssuer(HttpIssuer):
    name = "acapy"
    pushes_state = True

    def __init__(
        self,
        *,
        admin_url: str,
        api_key: str,
        timeout: float,
        credential_format: str = "ld_proof",
        credential_type: str = "RegisterftCredential",
        contexts: list[str | dict[str, Any]] | None = None,
        proof_type: str = "Ed25519Signature2020",
        issuer_did: str = "",
        cred_def_id: str = "",
    ):
        super().__init__(timeout=timeout, headers={"X-API-Key": api_key} if api_key else None)
        self.admin_url = admin_url.rstrip("/")
        self.credential_format = credential_format
        self.credential_type = credential_type
        self.contexts = list(contexts or ["https://www.w3.org/2018/credentials/v1"])
        self.proof_type = proof_type
        self.cred_def_id = cred_def_id
        # The did:key that signs W3C credentials: configured, or created once and remembered.
        self._issuer_did = issuer_did

    @classmethod
    def from_settings(cls) -> AcaPyIssuer:
        contexts: list[str | dict[str, Any]] = list(settings.ACAPY_CREDENTIAL_CONTEXTS)
        if settings.ACAPY_CREDENTIAL_VOCAB:
            # Our own terms, defined inline: the agent has no internet to fetch a context.
            contexts.append({"@vocab": settings.ACAPY_CREDENTIAL_VOCAB})
        return cls(
            admin_url=settings.ACAPY_ADMIN_URL,
            api_key=settings.ACAPY_ADMIN_API_KEY,
            timeout=settings.REGISTERFT_ISSUER_TIMEOUT,
            credential_format=settings.ACAPY_CREDENTIAL_FORMAT,
            credential_type=settings.ACAPY_CREDENTIAL_TYPE,
            contexts=contexts,
            proof_type=settings.ACAPY_PROOF_TYPE,
            issuer_did=settings.ACAPY_ISSUER_DID,
            cred_def_id=settings.ACAPY_CRED_DEF_ID,
        )

    def url(self, path: str) -> str:
        return self.admin_url + path

    # --- Connection ---------------------------------------------------------------------------

    def create_invitation(self, *, label: str) -> Invitation:
        data = self.request(
            "POST",
            self.url("/out-of-band/create-invitation"),
            operation="create_invitation",
            params={"auto_accept": "true"},
            json={"handshake_protocols": [DIDEXCHANGE], "my_label": label},
        )
        invitation_id = require(data, "invi_msg_id", "create_invitation")
        url = require(data, "invitation_url", "create_invitation")
        return Invitation(invitation_id=invitation_id, url=url, oob=invitation_oob(url))

    def connection_status(self, *, invitation_id: str, connection_id: str) -> ConnectionStatus:
        if connection_id:
            record = self.request(
                "GET", self.url(f"/connections/{quote(connection_id, safe='')}"), operation="connection_status"
            )
        else:
            record = self._connection_for_invitation(invitation_id)
            if record is None:
                return ConnectionStatus(ConnectionState.PENDING)
        found_id = require(record, "connection_id", "connection_status")
        state = connection_state(record)
        if state is None:
            # ACA-Py may grow states: keep waiting (the invitation expires) rather than guess.
            logger.warning("issuer backend=acapy unknown connection state=%r", str(record.get("state"))[:50])
            state = ConnectionState.PENDING
        return ConnectionStatus(state, connection_id=found_id, detail=_text(record, "error_msg")[:300])

    def _connection_for_invitation(self, invitation_id: str) -> dict[str, Any] | None:
        data = self.request(
            "GET", self.url("/connections"), operation="connection_status",
            params={"invitation_msg_id": invitation_id},
        )
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list) or not all(isinstance(item, dict) for item in results):
            raise IssuerRejected("The issuer's connection list has no results", body=str(data))
        if not results:
            return None
        # One invitation, one connection; should a wallet answer twice, a usable one wins.
        return max(results, key=lambda item: connection_state(item) == ConnectionState.CONNECTED)

    # --- Credential ---------------------------------------------------------------------------

    def offer_credential(self, *, connection_id: str, attributes: dict[str, str], reference: str) -> CredentialOffer:
        body = {
            "connection_id": connection_id,
            # The record stays after "done", so that a fallback check can still read its state.
            "auto_remove": False,
            "filter": self._credential_filter(attributes, reference),
        }
        if self.credential_format != "ld_proof":
            body["credential_preview"] = {
                "@type": CREDENTIAL_PREVIEW_TYPE,
                "attributes": [{"name": name, "value": value} for name, value in attributes.items()],
            }
        data = self.request("POST", self.url("/issue-credential-2.0/send"), operation="offer_credential", json=body)
        return CredentialOffer(process_id=require(data, "cred_ex_id", "offer_credential"))

    def _credential_filter(self, attributes: dict[str, str], reference: str) -> dict[str, Any]:
        if self.credential_format in ("anoncreds", "indy"):
            return {self.credential_format: {"cred_def_id": self.cred_def_id}}
        # What the door checks (docs/door.md): the id it admits once, the issuer, the validity.
        # credentialSubject.id stays the wallet's to fill in with its own DID (the holder binding).
        credential: dict[str, Any] = {
            "@context": self.contexts,
            "id": f"urn:uuid:{reference}",
            "type": ["VerifiableCredential", self.credential_type],
            "issuer": self.issuer_did(),
            "issuanceDate": _w3c_moment(timezone.now()),
            "credentialSubject": dict(attributes),
        }
        if settings.REGISTERFT_CREDENTIAL_VALID_UNTIL is not None:
            credential["expirationDate"] = _w3c_moment(settings.REGISTERFT_CREDENTIAL_VALID_UNTIL)
        return {"ld_proof": {"credential": credential, "options": {"proofType": self.proof_type}}}

    def issuer_did(self) -> str:
        """The portal's did:key: configured, else remembered in the database (one for every
        worker), else created at the agent once."""
        if self._issuer_did:
            return self._issuer_did
        from onboarding.models import AcaPyIssuerDid

        known = AcaPyIssuerDid.objects.filter(admin_url=self.admin_url).values_list("did", flat=True).first()
        if known:
            self._issuer_did = known
            return known
        data = self.request(
            "POST", self.url("/wallet/did/create"), operation="create_did",
            json={"method": "key", "options": {"key_type": "ed25519"}},
        )
        did = require(data.get("result") if isinstance(data, dict) else None, "did", "create_did")
        try:
            AcaPyIssuerDid.objects.create(admin_url=self.admin_url, did=did)
        except IntegrityError:
            # Another worker created one at the same moment: everybody signs with the stored one.
            did = AcaPyIssuerDid.objects.get(admin_url=self.admin_url).did
        self._issuer_did = did
        return did

    def forget_credential(self, *, process_id: str) -> bool:
        # Offers are sent with auto_remove false, so the exchange record (with the credential's
        # attributes) stays at the agent until deleted here. Already gone counts as deleted.
        self.request(
            "DELETE",
            self.url(f"/issue-credential-2.0/records/{quote(process_id, safe='')}"),
            operation="forget_credential",
            ok=(200, 404),
        )
        return True

    def credential_status(self, *, process_id: str) -> CredentialStatus:
        data = self.request(
            "GET",
            self.url(f"/issue-credential-2.0/records/{quote(process_id, safe='')}"),
            operation="credential_status",
        )
        record = data.get("cred_ex_record") if isinstance(data, dict) else None
        if not isinstance(record, dict) or not isinstance(record.get("state"), str):
            raise IssuerRejected("The issuer's credential record has no state", body=str(data))
        state = credential_state(record)
        detail = _text(record, "error_msg")[:300] or record["state"][:100]
        if state is None:
            logger.warning("issuer backend=acapy unknown credential state=%r", record["state"][:50])
            state = CredentialState.PENDING
        return CredentialStatus(state, detail=detail)

    # --- Health -------------------------------------------------------------------------------

    def health(self) -> IssuerHealth:
        started = time.monotonic()
        described = {
            "admin_url": self.admin_url,
            "api_key": "X-API-Key: ****" if "X-API-Key" in self.session.headers else "(none)",
            "credential_format": self.credential_format,
            "issuer_did": self._issuer_did or "(created on first offer)",
        }
        try:
            data = self.request("GET", self.url("/status"), operation="health")
        except IssuerError as err:
            return IssuerHealth(self.name, False, seconds=time.monotonic() - started, detail=err.detail(),
                                settings=described)
        version = _text(data, "version") if isinstance(data, dict) else ""
        return IssuerHealth(self.name, True, version=version, seconds=time.monotonic() - started,
                            settings=described)
