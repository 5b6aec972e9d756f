"""ACA-Py's admin API as the door's verifier, tested against acapy-agent 1.7.0.

A fresh request per visitor: present-proof 2.0 with DIF presentation exchange, created with
``/present-proof-2.0/create-request`` and carried connectionless, as the attachment of an
out-of-band invitation without a handshake. Facts measured with 1.7.0 (docs/door.md):
``ldp_vp.proof_type`` lists only Ed25519Signature2020 (both types made the holder send an empty
presentation); input descriptors need ``schema``; ``multi_use`` with attachments is refused;
the record stays after "done" (``auto_remove`` false) and holds the presentation, which the
webhook does not; ``verified`` is the string "true" or "false". ACA-Py does not compare the
presentation's signer with ``credentialSubject.id``: the door does.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any
from urllib.parse import quote

from django.conf import settings

from onboarding.issuers.base import HttpTransport
from onboarding.models import AcaPyIssuerDid
from onboarding.verifiers.base import (
    Answer,
    Presentation,
    PresentedCredential,
    ProofRequest,
    Verifier,
    VerifierRejected,
    VerifierTimeout,
    VerifierUnavailable,
    parse_moment,
)

logger = logging.getLogger("onboarding.verifier")

PROOF_TYPE = "Ed25519Signature2020"
VC_SCHEMA = "https://www.w3.org/2018/credentials#VerifiableCredential"
PENDING_STATES = frozenset({"request-sent", "presentation-received"})
DECLINED_STATES = frozenset({"abandoned", "deleted"})
# The input descriptor's id: a wallet names it when it picks the credential to show.
INPUT_DESCRIPTOR = "registerft"


def _text(data: Any, key: str) -> str:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, str) else ""


def _issuer_of(credential: dict[str, Any]) -> str:
    issuer = credential.get("issuer")
    return _text(issuer, "id") if isinstance(issuer, dict) else (issuer if isinstance(issuer, str) else "")


def _did_of(verification_method: str) -> str:
    """The DID a proof's ``verificationMethod`` names (``did:key:z6Mk..#z6Mk..`` -> ``did:key:z6Mk..``)."""
    return verification_method.split("#", 1)[0]


def parse_presented(vp: Any) -> tuple[PresentedCredential | None, str]:
    """The first credential of a verifiable presentation and the DID that signed the presentation."""
    if not isinstance(vp, dict):
        return None, ""
    proofs = vp.get("proof")
    proof = proofs[0] if isinstance(proofs, list) and proofs else proofs
    holder = _did_of(_text(proof, "verificationMethod"))
    credentials = vp.get("verifiableCredential")
    if isinstance(credentials, dict):
        credentials = [credentials]
    if not isinstance(credentials, list) or not credentials or not isinstance(credentials[0], dict):
        return None, holder
    credential = credentials[0]
    types = credential.get("type")
    subject = credential.get("credentialSubject")
    subject = subject[0] if isinstance(subject, list) and subject else subject
    subject = subject if isinstance(subject, dict) else {}
    return (
        PresentedCredential(
            id=_text(credential, "id"),
            types=tuple(t for t in (types if isinstance(types, list) else [types]) if isinstance(t, str)),
            issuer=_issuer_of(credential),
            issued_at=parse_moment(credential.get("issuanceDate")),
            expires_at=parse_moment(credential.get("expirationDate")),
            subject_id=_text(subject, "id"),
            subject={k: v for k, v in subject.items() if k != "id"},
        ),
        holder,
    )


def parse_record(record: Any) -> Presentation:
    """A present-proof 2.0 exchange record (the verifier's side) as the door's typed answer."""
    state = _text(record, "state")
    if not state:
        raise VerifierRejected("The verifier's record has no state", body=str(record))
    if state in DECLINED_STATES:
        return Presentation(Answer.DECLINED, detail=_text(record, "error_msg")[:300] or state)
    if state in PENDING_STATES:
        return Presentation(Answer.PENDING, detail=state)
    if state != "done":
        logger.warning("verifier backend=acapy unknown presentation state=%r", state[:50])
        return Presentation(Answer.PENDING, detail=state[:100])
    by_format = record.get("by_format") if isinstance(record, dict) else None
    pres = by_format.get("pres") if isinstance(by_format, dict) else None
    credential, holder = parse_presented(pres.get("dif") if isinstance(pres, dict) else None)
    return Presentation(
        Answer.PRESENTED, verified=_text(record, "verified") == "true", credential=credential, holder=holder
    )


class AcaPyVerifier(HttpTransport, Verifier):
    name = "acapy"
    party = "verifier"
    timeout_error = VerifierTimeout
    unavailable_error = VerifierUnavailable
    rejected_error = VerifierRejected

    def __init__(self, *, admin_url: str, api_key: str, timeout: float, credential_type: str, issuer_did: str = ""):
        super().__init__(timeout=timeout, headers={"X-API-Key": api_key} if api_key else None)
        self.admin_url = admin_url.rstrip("/")
        self.credential_type = credential_type
        self.issuer_did = issuer_did

    @classmethod
    def from_settings(cls) -> AcaPyVerifier:
        return cls(
            admin_url=settings.ACAPY_ADMIN_URL,
            api_key=settings.ACAPY_ADMIN_API_KEY,
            timeout=settings.REGISTERFT_ISSUER_TIMEOUT,
            credential_type=settings.ACAPY_CREDENTIAL_TYPE,
            issuer_did=settings.ACAPY_ISSUER_DID,
        )

    def trusted_issuers(self) -> frozenset[str]:
        """The configured did:key, else every did:key the portal signed with at this agent."""
        if self.issuer_did:
            return frozenset({self.issuer_did})
        return frozenset(AcaPyIssuerDid.objects.filter(admin_url=self.admin_url).values_list("did", flat=True))

    def presentation_request(self, *, label: str) -> dict[str, Any]:
        """The DIF presentation request: a credential of the event's type signed with
        Ed25519Signature2020; the door checks the type again, and the issuer, itself."""
        return {
            "comment": label,
            "auto_verify": True,
            "auto_remove": False,
            "presentation_request": {"dif": {
                "options": {"challenge": str(uuid.uuid4()), "domain": "registerft"},
                "presentation_definition": {
                    "id": str(uuid.uuid4()),
                    "format": {"ldp_vp": {"proof_type": [PROOF_TYPE]}},
                    "input_descriptors": [{
                        "id": INPUT_DESCRIPTOR,
                        "name": label,
                        "schema": [{"uri": VC_SCHEMA}],
                        # A descriptor without constraints breaks 1.7.0's holder (AttributeError on
                        # limit_disclosure); a wallet offers only the event's type, so a wallet
                        # holding other credentials has one to choose. A dotted path (1.7.0's guard).
                        "constraints": {"fields": [
                            {"path": ["$.type[*]"], "filter": {"const": self.credential_type}},
                        ]},
                    }],
                },
            }},
        }

    def create_request(self, *, label: str) -> ProofRequest:
        record = self.request("POST", self.admin_url + "/present-proof-2.0/create-request", operation="create_proof_request",
                              json=self.presentation_request(label=label))
        pres_ex_id = _text(record, "pres_ex_id")
        if not pres_ex_id:
            raise VerifierRejected("The verifier's answer to create_proof_request has no pres_ex_id", body=str(record))
        invitation = self.request(
            "POST", self.admin_url + "/out-of-band/create-invitation", operation="create_proof_invitation",
            json={"attachments": [{"id": pres_ex_id, "type": "present-proof"}], "my_label": label,
                  "use_public_did": False},
        )
        url = _text(invitation, "invitation_url")
        if not url:
            raise VerifierRejected("The verifier's invitation has no invitation_url", body=str(invitation))
        return ProofRequest(request_id=pres_ex_id, url=url, thread_id=_text(record, "thread_id"))

    def presentation(self, *, request_id: str) -> Presentation:
        record = self.request(
            "GET", f"{self.admin_url}/present-proof-2.0/records/{quote(request_id, safe='')}", operation="proof_status"
        )
        return parse_record(record)
