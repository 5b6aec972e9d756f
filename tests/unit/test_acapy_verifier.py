"""The ACA-Py verifier against a mocked admin API: the request it creates (present-proof 2.0, DIF,
connectionless), what a record means, and every way the agent can fail."""

from __future__ import annotations

import pytest
import requests
import responses
from responses import matchers

from onboarding.issuers.base import IssuerError
from onboarding.verifiers.acapy import PROOF_TYPE, AcaPyVerifier, parse_record
from onboarding.verifiers.base import Answer, VerifierRejected, VerifierTimeout, VerifierUnavailable

ADMIN = "http://agent.test:8031"
AUTH = matchers.header_matcher({"X-API-Key": "secret"})
HOLDER = "did:key:z6MkHolder"
ISSUER = "did:key:z6MkIssuer"


def make_verifier() -> AcaPyVerifier:
    return AcaPyVerifier(admin_url=ADMIN, api_key="secret", timeout=2.0, credential_type="RegisterftCredential",
                         issuer_did=ISSUER)


@pytest.fixture
def agent():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mocked:
        yield mocked


def record(state: str = "done", verified: str = "true", subject_id: str = HOLDER, signer: str = HOLDER) -> dict:
    credential = {
        "@context": ["https://www.w3.org/2018/credentials/v1"],
        "id": "urn:uuid:5b0c1d7e-8f57-4a57-9d2b-0c1f7f3c2a10",
        "type": ["VerifiableCredential", "RegisterftCredential"],
        "issuer": ISSUER,
        "issuanceDate": "2026-11-25T09:30:00Z",
        "expirationDate": "2026-11-27T18:00:00Z",
        "credentialSubject": {"id": subject_id, "first_name": "Ada"},
        "proof": {"type": PROOF_TYPE},
    }
    vp = {"type": ["VerifiablePresentation"], "verifiableCredential": [credential],
          "proof": {"type": PROOF_TYPE, "verificationMethod": f"{signer}#{signer[8:]}"}}
    return {"pres_ex_id": "px-1", "state": state, "verified": verified, "by_format": {"pres": {"dif": vp}}}


def test_it_creates_a_dif_request_and_carries_it_in_a_connectionless_invitation(agent):
    def body_checks(body):
        definition = body["presentation_request"]["dif"]["presentation_definition"]
        assert definition["format"] == {"ldp_vp": {"proof_type": ["Ed25519Signature2020"]}}
        assert definition["input_descriptors"][0]["schema"] == [
            {"uri": "https://www.w3.org/2018/credentials#VerifiableCredential"}
        ]
        # Only the event's type (a dotted path; without constraints 1.7.0's holder fails).
        assert definition["input_descriptors"][0]["constraints"] == {
            "fields": [{"path": ["$.type[*]"], "filter": {"const": "RegisterftCredential"}}]
        }
        assert body["auto_verify"] is True and body["auto_remove"] is False
        return True

    agent.post(f"{ADMIN}/present-proof-2.0/create-request", match=[AUTH],
               json={"pres_ex_id": "px-1", "thread_id": "th-1", "state": "request-sent"})
    agent.post(
        f"{ADMIN}/out-of-band/create-invitation",
        match=[AUTH, matchers.json_params_matcher(
            {"attachments": [{"id": "px-1", "type": "present-proof"}], "my_label": "Open Day", "use_public_did": False}
        )],
        json={"invitation_url": "http://agent.test:8030?oob=eyJ9", "invi_msg_id": "m-1"},
    )
    request = make_verifier().create_request(label="Open Day")
    assert (request.request_id, request.url, request.thread_id) == ("px-1", "http://agent.test:8030?oob=eyJ9", "th-1")
    import json

    assert body_checks(json.loads(agent.calls[0].request.body))
    # No handshake: the invitation only carries the request (multi_use would be refused with it).
    assert "handshake_protocols" not in json.loads(agent.calls[1].request.body)


def test_a_verified_record_gives_the_credential_and_the_presentations_signer(agent):
    agent.get(f"{ADMIN}/present-proof-2.0/records/px-1", match=[AUTH], json=record())
    presentation = make_verifier().presentation(request_id="px-1")
    assert presentation.answer == Answer.PRESENTED and presentation.verified
    assert presentation.holder == HOLDER
    credential = presentation.credential
    assert credential.id.startswith("urn:uuid:") and credential.issuer == ISSUER
    assert credential.subject_id == HOLDER and credential.subject == {"first_name": "Ada"}
    assert credential.expires_at.isoformat() == "2026-11-27T18:00:00+00:00"


def test_a_tampered_presentation_is_done_but_not_verified():
    presentation = parse_record(record(verified="false"))
    assert presentation.answer == Answer.PRESENTED and not presentation.verified


@pytest.mark.parametrize(("state", "answer"), [
    ("request-sent", Answer.PENDING), ("presentation-received", Answer.PENDING), ("abandoned", Answer.DECLINED),
    ("something-new", Answer.PENDING),
])
def test_it_reads_what_each_state_means(state, answer):
    assert parse_record({"state": state}).answer == answer


def test_an_empty_presentation_has_no_credential():
    presentation = parse_record({"state": "done", "verified": "true", "by_format": {"pres": {"dif": {"proof": {}}}}})
    assert presentation.credential is None


def test_an_issuer_given_as_an_object_is_read_by_its_id():
    data = record()
    data["by_format"]["pres"]["dif"]["verifiableCredential"][0]["issuer"] = {"id": ISSUER, "name": "x"}
    assert parse_record(data).credential.issuer == ISSUER


@pytest.mark.parametrize(("answer", "error"), [
    ({"status": 500}, VerifierRejected),
    ({"status": 404}, VerifierRejected),
    ({"status": 503}, VerifierUnavailable),
    ({"body": requests.ConnectionError()}, VerifierUnavailable),
    ({"body": requests.Timeout()}, VerifierTimeout),
    ({"body": "not json", "status": 200}, VerifierRejected),
    ({"json": {"no": "state"}}, VerifierRejected),
])
def test_every_failure_is_one_of_the_agents_errors(agent, answer, error):
    agent.get(f"{ADMIN}/present-proof-2.0/records/px-1", **answer)
    with pytest.raises(error) as raised:
        make_verifier().presentation(request_id="px-1")
    assert isinstance(raised.value, IssuerError)


def test_a_request_without_its_id_is_an_error(agent):
    agent.post(f"{ADMIN}/present-proof-2.0/create-request", json={"state": "request-sent"})
    with pytest.raises(VerifierRejected):
        make_verifier().create_request(label="x")


@pytest.mark.django_db
def test_it_trusts_the_did_the_portal_signs_with_at_this_agent():
    from onboarding.models import AcaPyIssuerDid

    AcaPyIssuerDid.objects.create(admin_url=ADMIN, did="did:key:z6MkStored")
    verifier = AcaPyVerifier(admin_url=ADMIN, api_key="", timeout=1, credential_type="RegisterftCredential")
    assert verifier.trusted_issuers() == frozenset({"did:key:z6MkStored"})
