"""The demo door: the demo wallet page presents a demo credential it holds. Nothing is signed;
the demo shows a newcomer the whole event, issuing and check-in, without an agent."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.urls import reverse

from onboarding.models import DemoCredential, DemoProofRequest
from onboarding.verifiers.base import (
    Answer,
    Presentation,
    PresentedCredential,
    ProofRequest,
    Verifier,
    VerifierRejected,
)

DEMO_ISSUER = "demo"
DEMO_TYPE = "RegisterftDemoCredential"


def demo_credential(credential: DemoCredential) -> PresentedCredential:
    """The demo credential as the door reads it: unbound (the demo wallet has no DID)."""
    return PresentedCredential(
        id=credential.credential_id,
        types=("VerifiableCredential", DEMO_TYPE),
        issuer=DEMO_ISSUER,
        issued_at=credential.created_at,
        expires_at=credential.valid_until,
        subject=dict(credential.attributes),
    )


class DemoVerifier(Verifier):
    name = "demo"
    credential_type = DEMO_TYPE
    # Its state is a query of the portal's own database: no need to spare it.
    check_interval = 0.0

    def trusted_issuers(self) -> frozenset[str]:
        return frozenset({DEMO_ISSUER})

    def create_request(self, *, label: str) -> ProofRequest:
        request = DemoProofRequest.objects.create()
        # A path of the portal: the door's short link makes it absolute for a phone.
        return ProofRequest(request_id=str(request.id), url=reverse("onboarding:demo_proof", args=[request.token]))

    def presentation(self, *, request_id: str) -> Presentation:
        try:
            request = DemoProofRequest.objects.select_related("credential").get(pk=request_id)
        except (DemoProofRequest.DoesNotExist, ValidationError, ValueError) as err:
            raise VerifierRejected("The demo verifier knows no such request") from err
        if request.state == DemoProofRequest.State.REFUSED:
            return Presentation(Answer.DECLINED, detail="refused in the demo wallet")
        if request.state == DemoProofRequest.State.PRESENTED and request.credential is not None:
            return Presentation(Answer.PRESENTED, verified=True, credential=demo_credential(request.credential))
        return Presentation(Answer.PENDING)


# --- The demo wallet's side -------------------------------------------------------------------


def demo_proof_get(*, token: str) -> DemoProofRequest | None:
    return DemoProofRequest.objects.filter(token=token).first()


def demo_proof_answer(*, request: DemoProofRequest, credential: DemoCredential | None) -> bool:
    """Present ``credential`` (None: refuse); False when the request was already answered."""
    state = DemoProofRequest.State.PRESENTED if credential is not None else DemoProofRequest.State.REFUSED
    return bool(
        DemoProofRequest.objects.filter(pk=request.pk, state=DemoProofRequest.State.REQUESTED).update(
            state=state, credential=credential
        )
    )
