"""The ACA-Py backend against its admin API, mocked at the HTTP boundary."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from unittest import mock

import pytest
import requests
import responses
from responses import matchers

from onboarding.issuers.acapy import AcaPyIssuer
from onboarding.issuers.base import (
    ConnectionState,
    CredentialState,
    IssuerRejected,
    IssuerTimeout,
    IssuerUnavailable,
)
from onboarding.models import AcaPyIssuerDid

ADMIN = "http://agent.test:8031"
KEY = "admin-key"
DID = "did:key:z6MkportalIssuer"
INVITATION = {"@type": "https://didcomm.org/out-of-band/1.1/invitation", "@id": "inv-1", "services": []}
AUTH = matchers.header_matcher({"X-API-Key": KEY})
NOW = datetime(2026, 11, 25, 9, 30, 0, tzinfo=UTC)


def make_issuer(**overrides) -> AcaPyIssuer:
    options = {
        "admin_url": ADMIN + "/",
        "api_key": KEY,
        "timeout": 2.0,
        "contexts": ["https://www.w3.org/2018/credentials/v1", {"@vocab": "https://registerft.example/vocab#"}],
    }
    options.update(overrides)
    return AcaPyIssuer(**options)



@pytest.fixture(autouse=True)
def _no_call_bound(settings):
    """These tests check the backend's requests and answers; the shared bound on concurrent calls
    (a database table) has tests of its own."""
    settings.REGISTERFT_MAX_ISSUER_CALLS = 0

@pytest.fixture
def agent():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mocked:
        yield mocked


def ld_proof_send_body(
    connection_id: str, attributes: dict[str, str], did: str = DID, reference: str = "r", expires: str = ""
) -> dict:
    body = {
        "connection_id": connection_id,
        "auto_remove": False,
        "filter": {
            "ld_proof": {
                "credential": {
                    "@context": [
                        "https://www.w3.org/2018/credentials/v1",
                        {"@vocab": "https://registerft.example/vocab#"},
                    ],
                    "id": f"urn:uuid:{reference}",
                    "type": ["VerifiableCredential", "RegisterftCredential"],
                    "issuer": did,
                    "issuanceDate": "2026-11-25T09:30:00Z",
                    "credentialSubject": attributes,
                },
                "options": {"proofType": "Ed25519Signature2020"},
            }
        },
    }
    if expires:
        body["filter"]["ld_proof"]["credential"]["expirationDate"] = expires
    return body


# --- Invitation ---------------------------------------------------------------------------------


def test_it_creates_an_out_of_band_invitation_with_did_exchange(agent):
    agent.post(
        f"{ADMIN}/out-of-band/create-invitation",
        match=[
            AUTH,
            matchers.query_param_matcher({"auto_accept": "true"}),
            matchers.json_params_matcher(
                {"handshake_protocols": ["https://didcomm.org/didexchange/1.1"], "my_label": "Conference"}
            ),
        ],
        json={
            "state": "initial",
            "invi_msg_id": "msg-1",
            "oob_id": "oob-1",
            "invitation": INVITATION,
            "invitation_url": "http://agent.test:8030?oob=eyJhIjoxfQ",
        },
    )
    invitation = make_issuer().create_invitation(label="Conference")
    assert invitation.invitation_id == "msg-1"
    assert invitation.url == "http://agent.test:8030?oob=eyJhIjoxfQ"
    assert invitation.connection_id == ""  # known only once the wallet answers
    assert invitation.oob == "eyJhIjoxfQ"  # the encoded invitation, for links that want it alone


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"status": 400, "json": {"message": "bad"}}, IssuerRejected),
        ({"status": 401, "body": "Unauthorized"}, IssuerRejected),
        ({"status": 500, "body": "Internal Server Error"}, IssuerRejected),
        ({"status": 503, "body": "Service Unavailable"}, IssuerUnavailable),
        ({"body": requests.ConnectionError("refused")}, IssuerUnavailable),
        ({"body": requests.ReadTimeout("slow")}, IssuerTimeout),
        ({"body": "<html>not json</html>"}, IssuerRejected),
        ({"json": {"invitation_url": "http://x?oob=e30"}}, IssuerRejected),  # no invi_msg_id
        ({"json": ["not", "an", "object"]}, IssuerRejected),
    ],
)
def test_it_turns_every_bad_invitation_answer_into_an_issuer_error(agent, answer, error):
    agent.post(f"{ADMIN}/out-of-band/create-invitation", **answer)
    with pytest.raises(error):
        make_issuer().create_invitation(label="Conference")


def test_a_timeout_is_also_an_unavailable_issuer_for_the_visitor():
    assert issubclass(IssuerTimeout, IssuerUnavailable)


# --- Connection ---------------------------------------------------------------------------------


def connection(state: str, rfc23: str, **extra) -> dict:
    return {"connection_id": "conn-1", "invitation_msg_id": "msg-1", "state": state, "rfc23_state": rfc23, **extra}


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (connection("invitation", "invitation-sent"), ConnectionState.PENDING),
        (connection("request", "request-received"), ConnectionState.PENDING),
        # The wallet may not have read the response yet: an offer now could be dropped.
        (connection("response", "response-sent"), ConnectionState.PENDING),
        (connection("active", "completed"), ConnectionState.CONNECTED),
        (connection("completed", "completed"), ConnectionState.CONNECTED),
        (connection("abandoned", "abandoned"), ConnectionState.FAILED),
        (connection("error", ""), ConnectionState.FAILED),
        (connection("teleported", "beamed"), ConnectionState.PENDING),  # unknown: keep waiting
    ],
)
def test_it_finds_the_connection_of_an_invitation_and_reads_its_state(agent, record, expected):
    agent.get(
        f"{ADMIN}/connections",
        match=[AUTH, matchers.query_param_matcher({"invitation_msg_id": "msg-1"})],
        json={"results": [record]},
    )
    status = make_issuer().connection_status(invitation_id="msg-1", connection_id="")
    assert status.state == expected
    assert status.connection_id == "conn-1"


def test_an_invitation_nobody_answered_yet_is_pending(agent):
    agent.get(f"{ADMIN}/connections", match=[matchers.query_param_matcher({"invitation_msg_id": "msg-1"})],
              json={"results": []})
    status = make_issuer().connection_status(invitation_id="msg-1", connection_id="")
    assert status.state == ConnectionState.PENDING and status.connection_id == ""


def test_it_asks_for_a_known_connection_by_its_id(agent):
    agent.get(f"{ADMIN}/connections/conn%2F1", match=[AUTH],
              json=connection("abandoned", "abandoned", connection_id="conn/1", error_msg="rejected"))
    status = make_issuer().connection_status(invitation_id="msg-1", connection_id="conn/1")
    assert status.state == ConnectionState.FAILED
    assert status.detail == "rejected"


@pytest.mark.parametrize(
    "answer",
    [
        {"json": {"results": "nope"}},
        {"json": {"results": [{"state": "active"}]}},  # no connection_id
        {"json": {}},
        {"body": "not json"},
        {"status": 404, "json": {"message": "not found"}},
    ],
)
def test_it_rejects_a_malformed_connection_answer(agent, answer):
    agent.get(f"{ADMIN}/connections", **answer)
    with pytest.raises(IssuerRejected):
        make_issuer().connection_status(invitation_id="msg-1", connection_id="")


def test_an_unreachable_agent_during_a_connection_check_is_unavailable(agent):
    agent.get(f"{ADMIN}/connections/conn-1", body=requests.ConnectionError("refused"))
    with pytest.raises(IssuerUnavailable):
        make_issuer().connection_status(invitation_id="msg-1", connection_id="conn-1")


# --- Credential ---------------------------------------------------------------------------------


def mock_did_create(agent, did: str = DID) -> None:
    agent.post(
        f"{ADMIN}/wallet/did/create",
        match=[AUTH, matchers.json_params_matcher({"method": "key", "options": {"key_type": "ed25519"}})],
        json={"result": {"did": did, "verkey": "abc", "method": "key", "key_type": "ed25519"}},
    )


def mock_send(agent, body: dict, cred_ex_id: str = "cx-1") -> None:
    agent.post(
        f"{ADMIN}/issue-credential-2.0/send",
        match=[AUTH, matchers.json_params_matcher(body)],
        json={"cred_ex_id": cred_ex_id, "state": "offer-sent", "connection_id": body["connection_id"]},
    )


@pytest.mark.django_db
def test_it_offers_a_w3c_credential_signed_by_a_did_key_it_creates_once(agent):
    attributes = {"first_name": "Ada", "last_name": "Lovelace"}
    mock_did_create(agent)
    mock_send(agent, ld_proof_send_body("conn-1", attributes, reference="r1"), "cx-1")
    mock_send(agent, ld_proof_send_body("conn-2", attributes, reference="r2"), "cx-2")
    issuer = make_issuer()
    with mock.patch("django.utils.timezone.now", return_value=NOW):
        assert issuer.offer_credential(connection_id="conn-1", attributes=attributes, reference="r1").process_id == "cx-1"
        assert issuer.offer_credential(connection_id="conn-2", attributes=attributes, reference="r2").process_id == "cx-2"
    assert len([call for call in agent.calls if call.request.url.endswith("/wallet/did/create")]) == 1
    assert AcaPyIssuerDid.objects.get().did == DID


@pytest.mark.django_db
def test_the_credential_carries_the_registrations_id_and_the_events_expiry(agent, settings):
    """What the door checks: the id it admits once and the validity every backend writes."""
    settings.REGISTERFT_CREDENTIAL_VALID_UNTIL = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    reference = "5b0c1d7e-8f57-4a57-9d2b-0c1f7f3c2a10"
    mock_send(agent, ld_proof_send_body("conn-1", {"first_name": "Ada"}, did="did:key:z6MkConfigured",
                                        reference=reference, expires="2026-11-27T18:00:00Z"))
    with mock.patch("django.utils.timezone.now", return_value=NOW):
        make_issuer(issuer_did="did:key:z6MkConfigured").offer_credential(
            connection_id="conn-1", attributes={"first_name": "Ada"}, reference=reference
        )


@pytest.mark.django_db
def test_every_worker_signs_with_the_did_remembered_in_the_database(agent):
    AcaPyIssuerDid.objects.create(admin_url=ADMIN, did="did:key:z6MkRemembered")
    mock_send(agent, ld_proof_send_body("conn-1", {"first_name": "Ada"}, did="did:key:z6MkRemembered"))
    with mock.patch("django.utils.timezone.now", return_value=NOW):
        make_issuer().offer_credential(connection_id="conn-1", attributes={"first_name": "Ada"}, reference="r")


@pytest.mark.django_db
def test_a_configured_did_is_used_without_asking_the_agent(agent):
    mock_send(agent, ld_proof_send_body("conn-1", {"first_name": "Ada"}, did="did:key:z6MkConfigured"))
    with mock.patch("django.utils.timezone.now", return_value=NOW):
        make_issuer(issuer_did="did:key:z6MkConfigured").offer_credential(
            connection_id="conn-1", attributes={"first_name": "Ada"}, reference="r"
        )
    assert not AcaPyIssuerDid.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("credential_format", ["anoncreds", "indy"])
def test_it_offers_an_anoncreds_credential_of_the_configured_definition(agent, credential_format):
    cred_def_id = "WgWxqztrNooG92RXvxSTWv:3:CL:20:tag"
    mock_send(
        agent,
        {
            "connection_id": "conn-1",
            "auto_remove": False,
            "filter": {credential_format: {"cred_def_id": cred_def_id}},
            "credential_preview": {
                "@type": "issue-credential/2.0/credential-preview",
                "attributes": [{"name": "first_name", "value": "Ada"}, {"name": "last_name", "value": "Lovelace"}],
            },
        },
    )
    issuer = make_issuer(credential_format=credential_format, cred_def_id=cred_def_id)
    offer = issuer.offer_credential(
        connection_id="conn-1", attributes={"first_name": "Ada", "last_name": "Lovelace"}, reference="r"
    )
    assert offer.process_id == "cx-1"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"status": 400, "body": "Credential offer invalid"}, IssuerRejected),
        ({"status": 500, "body": "Internal Server Error"}, IssuerRejected),
        ({"status": 502, "body": "Bad Gateway"}, IssuerUnavailable),
        ({"body": requests.ConnectionError("refused")}, IssuerUnavailable),
        ({"body": requests.ReadTimeout("slow")}, IssuerTimeout),
        ({"body": "{broken"}, IssuerRejected),
        ({"json": {"state": "offer-sent"}}, IssuerRejected),  # no cred_ex_id
    ],
)
def test_it_turns_every_bad_offer_answer_into_an_issuer_error(agent, answer, error):
    agent.post(f"{ADMIN}/issue-credential-2.0/send", **answer)
    with pytest.raises(error):
        make_issuer(issuer_did=DID).offer_credential(connection_id="c", attributes={"a": "b"}, reference="r")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "answer",
    [{"status": 500, "body": "wallet locked"}, {"json": {"result": {}}}, {"json": {"nothing": 1}}],
)
def test_a_failed_did_creation_stops_the_offer_and_remembers_nothing(agent, answer):
    agent.post(f"{ADMIN}/wallet/did/create", **answer)
    with pytest.raises(IssuerRejected):
        make_issuer().offer_credential(connection_id="c", attributes={"a": "b"}, reference="r")
    assert not AcaPyIssuerDid.objects.exists()


def record(state: str, **extra) -> dict:
    return {"cred_ex_record": {"cred_ex_id": "cx-1", "state": state, "role": "issuer", **extra}, "ld_proof": None}


@pytest.mark.parametrize(
    ("answer", "expected", "detail"),
    [
        (record("offer-sent"), CredentialState.PENDING, "offer-sent"),
        (record("request-received"), CredentialState.PENDING, "request-received"),
        (record("credential-issued"), CredentialState.PENDING, "credential-issued"),
        (record("done"), CredentialState.ACCEPTED, "done"),
        (record("abandoned", error_msg="issuance-abandoned: no thanks"), CredentialState.FAILED,
         "issuance-abandoned: no thanks"),
        (record("levitating"), CredentialState.PENDING, "levitating"),  # unknown: keep waiting
    ],
)
def test_it_reads_the_credential_exchange_state(agent, answer, expected, detail):
    agent.get(f"{ADMIN}/issue-credential-2.0/records/cx-1", match=[AUTH], json=answer)
    status = make_issuer().credential_status(process_id="cx-1")
    assert (status.state, status.detail) == (expected, detail)


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"status": 404, "json": {"message": "record not found"}}, IssuerRejected),
        ({"json": {"cred_ex_record": {"cred_ex_id": "cx-1"}}}, IssuerRejected),  # no state
        ({"json": {"results": []}}, IssuerRejected),
        ({"body": "not json"}, IssuerRejected),
        ({"status": 504, "body": "Gateway Timeout"}, IssuerUnavailable),
        ({"body": requests.ConnectTimeout("slow")}, IssuerTimeout),
    ],
)
def test_it_turns_every_bad_credential_answer_into_an_issuer_error(agent, answer, error):
    agent.get(f"{ADMIN}/issue-credential-2.0/records/cx-1", **answer)
    with pytest.raises(error):
        make_issuer().credential_status(process_id="cx-1")


# --- Health and settings ------------------------------------------------------------------------


def test_its_health_reports_the_agents_version(agent):
    agent.get(f"{ADMIN}/status", match=[AUTH], json={"version": "1.7.0", "label": "issuer"})
    health = make_issuer().health()
    assert health.reachable and health.version == "1.7.0"
    assert KEY not in str(health.settings)


def test_its_health_reports_an_unreachable_agent(agent):
    agent.get(f"{ADMIN}/status", body=requests.ConnectionError("refused"))
    health = make_issuer().health()
    assert not health.reachable and "could not be reached" in health.detail


def test_it_is_built_from_the_settings(settings):
    settings.ACAPY_ADMIN_URL = ADMIN
    settings.ACAPY_ADMIN_API_KEY = KEY
    settings.ACAPY_CREDENTIAL_TYPE = "BadgeCredential"
    settings.ACAPY_CREDENTIAL_CONTEXTS = ["https://www.w3.org/2018/credentials/v1"]
    settings.ACAPY_CREDENTIAL_VOCAB = "https://example.org/terms#"
    issuer = AcaPyIssuer.from_settings()
    assert issuer.pushes_state
    assert issuer.session.headers["X-API-Key"] == KEY
    assert issuer.credential_type == "BadgeCredential"
    assert issuer.contexts == ["https://www.w3.org/2018/credentials/v1", {"@vocab": "https://example.org/terms#"}]
    assert issuer.proof_type == "Ed25519Signature2020"


def load_settings(**env: str) -> subprocess.CompletedProcess:
    """Import the settings in a fresh interpreter, as the portal does at start."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ACAPY_")}
    environment.update({"DJANGO_DEBUG": "1", **env})
    return subprocess.run(
        [sys.executable, "-c", "import registerft.settings"], env=environment, capture_output=True, text=True,
        timeout=60, cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    )


COMPLETE = {
    "REGISTERFT_ISSUERS": "acapy",
    "ACAPY_ADMIN_URL": ADMIN,
    "ACAPY_ADMIN_API_KEY": KEY,
    "ACAPY_WEBHOOK_SECRET": "hook-secret",
}


@pytest.mark.parametrize("missing", ["ACAPY_ADMIN_URL", "ACAPY_ADMIN_API_KEY", "ACAPY_WEBHOOK_SECRET"])
def test_a_missing_acapy_setting_stops_start_up_naming_it(missing):
    result = load_settings(**{key: value for key, value in COMPLETE.items() if key != missing})
    assert result.returncode != 0
    assert f"{missing} must be set" in result.stderr


def test_anoncreds_without_a_credential_definition_stops_start_up():
    result = load_settings(**COMPLETE, ACAPY_CREDENTIAL_FORMAT="anoncreds")
    assert result.returncode != 0 and "ACAPY_CRED_DEF_ID" in result.stderr


def test_acapy_settings_are_not_required_by_other_backends():
    assert load_settings(REGISTERFT_ISSUERS="demo").returncode == 0
    assert load_settings(**COMPLETE).returncode == 0
