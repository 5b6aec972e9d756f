"""The door's rules on what an ACA-Py wallet presented: type and issuer, signatures, expiry, the
holder binding (bound and unbound), the registration it names."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from onboarding import checkin
from onboarding.models import Registration
from onboarding.verifiers.base import Answer, Presentation, PresentedCredential

pytestmark = pytest.mark.django_db
ISSUER = "did:key:z6MkIssuer"
HOLDER = "did:key:z6MkHolder"


@pytest.fixture(autouse=True)
def _acapy(settings):
    settings.REGISTERFT_ISSUERS = ("acapy",)
    settings.ACAPY_ADMIN_URL = "http://agent.test:8031"
    settings.ACAPY_ISSUER_DID = ISSUER


@pytest.fixture
def registration() -> Registration:
    return Registration.objects.create(backend="acapy", invitation_id="i", invitation_url="/x",
                                       state=Registration.State.ISSUED, attributes={"first_name": "Ada"})


def presented(registration, *, issuer=ISSUER, types=("VerifiableCredential", "RegisterftCredential"),
              subject_id="", holder=HOLDER, verified=True, expires_at=None) -> Presentation:
    credential = PresentedCredential(id=registration.credential_id, types=types, issuer=issuer,
                                     subject_id=subject_id, expires_at=expires_at)
    return Presentation(Answer.PRESENTED, verified=verified, credential=credential, holder=holder)


def test_a_bound_credential_presented_by_its_holder_is_admitted(registration):
    assert checkin.judge(presented(registration, subject_id=HOLDER)) == (registration, "")


def test_a_bound_credential_signed_by_another_key_is_refused(registration):
    reason = checkin.judge(presented(registration, subject_id=HOLDER, holder="did:key:z6MkSomebodyElse"))[1]
    assert reason == "other_holder"


def test_an_unbound_credential_is_admitted_on_its_id_issuer_and_signatures(registration):
    assert checkin.judge(presented(registration, holder="did:key:z6MkAnyKey")) == (registration, "")


@pytest.mark.parametrize("overrides", [{"issuer": "did:key:z6MkOther"}, {"types": ("VerifiableCredential",)}])
def test_another_issuers_or_types_credential_is_not_this_events(registration, overrides):
    assert checkin.judge(presented(registration, **overrides))[1] == "wrong_credential"


def test_a_presentation_the_agent_did_not_verify_is_refused_as_tampered(registration):
    assert checkin.judge(presented(registration, verified=False))[1] == "invalid_signature"


def test_an_expired_credential_is_refused(registration):
    expired = timezone.now() - timedelta(seconds=1)
    assert checkin.judge(presented(registration, expires_at=expired))[1] == "expired"


def test_a_credential_naming_no_issued_registration_is_not_this_events(registration):
    Registration.objects.filter(pk=registration.pk).update(state=Registration.State.FAILED)
    assert checkin.judge(presented(registration))[1] == "wrong_credential"


def test_an_empty_presentation_is_not_this_events():
    assert checkin.judge(Presentation(Answer.PRESENTED, verified=True)) == (None, "wrong_credential")
