"""The agent REST backend against the original API's exact paths and bodies.

Every call is checked for its method, path, body and headers; every kind of answer the agent may
give (success, 4xx, 5xx, no connection, no answer in time, not JSON, the wrong shape, a state the
portal does not know) must end in a typed result or in the one exception family, never in success.
"""

from __future__ import annotations

import logging
import socket

import pytest
import requests
import responses
from responses import matchers

from onboarding.issuers import get_issuer
from onboarding.issuers.agent_rest import AgentRestIssuer
from onboarding.issuers.base import (
    ConnectionState,
    CredentialState,
    IssuerError,
    IssuerRejected,
    IssuerTimeout,
    IssuerUnavailable,
)

CONNECTION_URL = "http://agent.example:9000/api"
ISSUER_URL = "http://issuer.example:9001/v1"
CRED_DEF = "Th7MpTaRZVRYnPiabds81Y:3:CL:12:registerft"
TIMEOUT = 7.5


def make_issuer(**overrides) -> AgentRestIssuer:
    options = {
        "connection_url": CONNECTION_URL + "/",  # a trailing slash in the setting must not double
        "issuer_url": ISSUER_URL,
        "credential_definition_id": CRED_DEF,
        "attribute_names": {"first_name": "firstName", "last_name": "lastName"},
        "accepted_states": ["DONE", "COMPLETED", "ACCEPTED", "ISSUED"],
        "failed_states": ["FAILED", "ERROR", "DECLINED", "REJECTED", "ABANDONED"],
        "timeout": TIMEOUT,
    }
    options.update(overrides)
    return AgentRestIssuer(**options)



@pytest.fixture(autouse=True)
def _no_call_bound(settings):
    """These tests check the backend's requests and answers; the shared bound on concurrent calls
    (a database table) has tests of its own."""
    settings.REGISTERFT_MAX_ISSUER_CALLS = 0

@pytest.fixture
def agent():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def no_body(request) -> tuple[bool, str]:
    """The original API's invitation call has an empty body."""
    return (not request.body, f"expected no body, got {request.body!r}")


def with_timeout(request) -> tuple[bool, str]:
    timeout = request.req_kwargs.get("timeout")
    return (timeout == TIMEOUT, f"expected timeout {TIMEOUT}, got {timeout!r}")


def free_port() -> int:
    """A local port nobody listens on: a real "connection refused"."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- POST {connection url}/connection/invitation ------------------------------------------------


def test_it_creates_an_invitation_with_an_empty_post(agent):
    agent.post(
        f"{CONNECTION_URL}/connection/invitation",
        json={"invitationUrl": "https://agent.example/?c_i=abc", "connectionId": "conn-1"},
        match=[no_body, with_timeout, matchers.header_matcher({"Accept": "application/json"})],
    )
    invitation = make_issuer().create_invitation(label="registerft")
    assert invitation.url == "https://agent.example/?c_i=abc"
    assert invitation.connection_id == "conn-1"
    assert invitation.invitation_id == "conn-1"
    assert invitation.oob == "abc"  # the older connection invitation's c_i parameter


def test_it_accepts_201_created_for_an_invitation(agent):
    agent.post(
        f"{CONNECTION_URL}/connection/invitation",
        status=201,
        json={"invitationUrl": "https://agent.example/?c_i=abc", "connectionId": "conn-1"},
    )
    assert make_issuer().create_invitation(label="x").connection_id == "conn-1"


def test_it_sends_the_api_key_header_when_one_is_configured(agent):
    agent.post(
        f"{CONNECTION_URL}/connection/invitation",
        json={"invitationUrl": "https://agent.example/?c_i=abc", "connectionId": "conn-1"},
        match=[matchers.header_matcher({"X-Agent-Key": "s3cret"})],
    )
    make_issuer(api_key_header="X-Agent-Key", api_key="s3cret").create_invitation(label="x")


def test_it_sends_no_api_key_header_when_none_is_configured(agent):
    def no_key(request):
        return ("X-API-Key" not in request.headers, "an API key header was sent")

    agent.post(
        f"{CONNECTION_URL}/connection/invitation",
        json={"invitationUrl": "https://agent.example/?c_i=abc", "connectionId": "conn-1"},
        match=[no_key],
    )
    make_issuer(api_key_header="X-API-Key", api_key="").create_invitation(label="x")


@pytest.mark.parametrize(
    "answer",
    [
        {"invitationUrl": "https://agent.example/?c_i=abc"},
        {"connectionId": "conn-1"},
        {"invitationUrl": "", "connectionId": "conn-1"},
        {"invitationUrl": "https://agent.example/?c_i=abc", "connectionId": 17},
        ["https://agent.example/?c_i=abc", "conn-1"],
        "established",
    ],
    ids=["no-connection-id", "no-url", "empty-url", "numeric-id", "list", "string"],
)
def test_it_rejects_an_invitation_of_the_wrong_shape(agent, answer):
    agent.post(f"{CONNECTION_URL}/connection/invitation", json=answer)
    with pytest.raises(IssuerRejected) as caught:
        make_issuer().create_invitation(label="x")
    assert caught.value.status == 502


# --- GET {connection url}/connection/{id} ---------------------------------------------------


def test_it_reports_a_connection_established_when_the_agent_says_so(agent):
    agent.get(f"{CONNECTION_URL}/connection/conn-1", json="established", match=[with_timeout])
    status = make_issuer().connection_status(invitation_id="conn-1", connection_id="conn-1")
    assert status.state == ConnectionState.CONNECTED
    assert status.connection_id == "conn-1"


def test_it_keeps_waiting_while_the_connection_is_not_established(agent):
    agent.get(f"{CONNECTION_URL}/connection/conn-1", json="invited")
    status = make_issuer().connection_status(invitation_id="conn-1", connection_id="conn-1")
    assert status.state == ConnectionState.PENDING


def test_it_asks_for_the_invitation_id_when_no_connection_id_is_known(agent):
    agent.get(f"{CONNECTION_URL}/connection/inv-9", json="established")
    status = make_issuer().connection_status(invitation_id="inv-9", connection_id="")
    assert status.state == ConnectionState.CONNECTED


def test_it_quotes_a_connection_id_into_one_path_segment(agent):
    agent.get(f"{CONNECTION_URL}/connection/a%2Fb%3Fc", json="established")
    make_issuer().connection_status(invitation_id="a/b?c", connection_id="a/b?c")


@pytest.mark.parametrize("answer", [{"state": "established"}, ["established"], True, None])
def test_it_rejects_a_connection_state_that_is_not_a_string(agent, answer):
    agent.get(f"{CONNECTION_URL}/connection/conn-1", json=answer)
    with pytest.raises(IssuerRejected):
        make_issuer().connection_status(invitation_id="conn-1", connection_id="conn-1")


# --- POST {issuer url}/issue/process ---------------------------------------------------------


def test_it_offers_the_credential_with_the_original_body(agent):
    expected = {
        "connectionId": "conn-1",
        "credentialDefinitionId": CRED_DEF,
        "attributes": {"firstName": "Zoë", "lastName": "Müller", "institution": "ETH"},
        "userId": "6f1c0d52-7d1e-4c0b-9a57-1a1f0f6c1e11",
    }
    agent.post(
        f"{ISSUER_URL}/issue/process",
        json={"processId": "proc-7"},
        match=[matchers.json_params_matcher(expected), with_timeout],
    )
    offer = make_issuer().offer_credential(
        connection_id="conn-1",
        attributes={"first_name": "Zoë", "last_name": "Müller", "institution": "ETH"},
        reference="6f1c0d52-7d1e-4c0b-9a57-1a1f0f6c1e11",
    )
    assert offer.process_id == "proc-7"


def test_it_never_logs_the_visitors_details(agent, caplog):
    agent.post(f"{ISSUER_URL}/issue/process", status=400, body="bad attribute Müller")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(IssuerRejected):
        make_issuer().offer_credential(
            connection_id="conn-1", attributes={"last_name": "Müller"}, reference="ref-1"
        )
    assert "Müller" not in caplog.text


@pytest.mark.parametrize("answer", [{}, {"processId": ""}, {"processId": 42}, "proc-7", []])
def test_it_rejects_an_offer_answer_of_the_wrong_shape(agent, answer):
    agent.post(f"{ISSUER_URL}/issue/process", json=answer)
    with pytest.raises(IssuerRejected):
        make_issuer().offer_credential(connection_id="conn-1", attributes={}, reference="ref-1")


# --- GET {issuer url}/issue/process/{processId}/state ------------------------------------------


def test_it_keeps_waiting_while_the_process_is_in_progress(agent, caplog):
    agent.get(f"{ISSUER_URL}/issue/process/proc-7/state", json="IN_PROGRESS", match=[with_timeout])
    caplog.set_level(logging.WARNING)
    status = make_issuer().credential_status(process_id="proc-7")
    assert status.state == CredentialState.PENDING
    assert "unknown process state" not in caplog.text


@pytest.mark.parametrize("answer", ["DONE", "COMPLETED", "ACCEPTED", "ISSUED", "done"])
def test_it_reports_the_credential_accepted_for_each_accepted_state(agent, answer):
    agent.get(f"{ISSUER_URL}/issue/process/proc-7/state", json=answer)
    assert make_issuer().credential_status(process_id="proc-7").state == CredentialState.ACCEPTED


@pytest.mark.parametrize("answer", ["FAILED", "ERROR", "DECLINED", "REJECTED", "ABANDONED"])
def test_it_reports_the_credential_failed_for_each_failed_state(agent, answer):
    agent.get(f"{ISSUER_URL}/issue/process/proc-7/state", json=answer)
    assert make_issuer().credential_status(process_id="proc-7").state == CredentialState.FAILED


def test_it_uses_the_configured_state_lists(agent):
    agent.get(f"{ISSUER_URL}/issue/process/proc-7/state", json="FINISHED")
    agent.get(f"{ISSUER_URL}/issue/process/proc-8/state", json="DONE")
    issuer = make_issuer(accepted_states=["finished"], failed_states=["DONE"])
    assert issuer.credential_status(process_id="proc-7").state == CredentialState.ACCEPTED
    assert issuer.credential_status(process_id="proc-8").state == CredentialState.FAILED


@pytest.mark.parametrize("answer", ["SOMETHING_NEW", "", "OK", "success"])
def test_it_keeps_waiting_on_an_unknown_state_and_logs_it(agent, caplog, answer):
    agent.get(f"{ISSUER_URL}/issue/process/proc-7/state", json=answer)
    caplog.set_level(logging.WARNING, logger="onboarding.issuer")
    status = make_issuer().credential_status(process_id="proc-7")
    assert status.state == CredentialState.PENDING
    assert "unknown process state" in caplog.text


@pytest.mark.parametrize("answer", [{"state": "DONE"}, ["DONE"], 1, None])
def test_it_rejects_a_process_state_that_is_not_a_string(agent, answer):
    agent.get(f"{ISSUER_URL}/issue/process/proc-7/state", json=answer)
    with pytest.raises(IssuerRejected):
        make_issuer().credential_status(process_id="proc-7")


# --- Every call, every kind of failure --------------------------------------------------------

CALLS = {
    "create_invitation": (
        responses.POST,
        f"{CONNECTION_URL}/connection/invitation",
        lambda issuer: issuer.create_invitation(label="x"),
    ),
    "connection_status": (
        responses.GET,
        f"{CONNECTION_URL}/connection/conn-1",
        lambda issuer: issuer.connection_status(invitation_id="conn-1", connection_id="conn-1"),
    ),
    "offer_credential": (
        responses.POST,
        f"{ISSUER_URL}/issue/process",
        lambda issuer: issuer.offer_credential(
            connection_id="conn-1", attributes={"first_name": "Ada"}, reference="ref-1"
        ),
    ),
    "credential_status": (
        responses.GET,
        f"{ISSUER_URL}/issue/process/proc-7/state",
        lambda issuer: issuer.credential_status(process_id="proc-7"),
    ),
}


@pytest.fixture(params=sorted(CALLS))
def call(request):
    return CALLS[request.param]


@pytest.mark.parametrize("http_status", [400, 401, 403, 404, 409, 422])
def test_it_turns_a_4xx_answer_into_a_rejection(agent, call, http_status):
    method, url, invoke = call
    agent.add(method, url, status=http_status, json={"error": "nope"})
    with pytest.raises(IssuerRejected) as caught:
        invoke(make_issuer())
    assert caught.value.status == 502
    assert caught.value.http_status == http_status
    assert str(http_status) in str(caught.value)


@pytest.mark.parametrize("http_status", [502, 503, 504])
def test_it_reports_the_issuer_unavailable_on_a_gateway_answer(agent, call, http_status):
    method, url, invoke = call
    agent.add(method, url, status=http_status, body="upstream down")
    with pytest.raises(IssuerUnavailable) as caught:
        invoke(make_issuer())
    assert not isinstance(caught.value, IssuerTimeout)
    assert caught.value.status == 503
    assert caught.value.http_status == http_status


def test_it_turns_an_internal_server_error_into_a_rejection(agent, call):
    method, url, invoke = call
    agent.add(method, url, status=500, body="Traceback ...")
    with pytest.raises(IssuerRejected) as caught:
        invoke(make_issuer())
    assert caught.value.status == 502
    assert "Traceback" in caught.value.body


def test_it_reports_the_issuer_unavailable_when_the_connection_fails(agent, call):
    method, url, invoke = call
    agent.add(method, url, body=requests.ConnectionError("Connection refused"))
    with pytest.raises(IssuerUnavailable) as caught:
        invoke(make_issuer())
    assert caught.value.status == 503
    assert isinstance(caught.value.__cause__, requests.ConnectionError)


def test_it_reports_the_issuer_unavailable_when_nothing_listens_on_the_port():
    port = free_port()
    issuer = make_issuer(connection_url=f"http://127.0.0.1:{port}", timeout=2.0)
    with pytest.raises(IssuerUnavailable) as caught:
        issuer.create_invitation(label="x")
    assert caught.value.status == 503


@pytest.mark.parametrize("error", [requests.ReadTimeout, requests.ConnectTimeout])
def test_it_reports_a_timeout_when_the_issuer_does_not_answer_in_time(agent, call, error):
    method, url, invoke = call
    agent.add(method, url, body=error("timed out"))
    with pytest.raises(IssuerTimeout) as caught:
        invoke(make_issuer())
    assert caught.value.status == 504


@pytest.mark.parametrize("body", ["<html>Bad gateway</html>", "", "{not json", "established"])
def test_it_rejects_an_answer_that_is_not_json(agent, call, body):
    method, url, invoke = call
    agent.add(method, url, status=200, body=body, content_type="text/html")
    with pytest.raises(IssuerRejected) as caught:
        invoke(make_issuer())
    assert "not JSON" in str(caught.value)
    assert caught.value.http_status == 200


def test_every_failure_belongs_to_one_exception_family(agent, call):
    method, url, invoke = call
    agent.add(method, url, body=requests.exceptions.SSLError("certificate verify failed"))
    with pytest.raises(IssuerError):
        invoke(make_issuer())


# --- Wiring from settings ----------------------------------------------------------------------


def test_the_configured_backend_uses_the_agent_rest_settings(agent, settings):
    settings.REGISTERFT_ISSUERS = ("agent-rest",)
    settings.AGENT_REST_CONNECTION_URL = CONNECTION_URL
    settings.AGENT_REST_ISSUER_URL = ISSUER_URL
    settings.AGENT_REST_CREDENTIAL_DEFINITION_ID = CRED_DEF
    settings.AGENT_REST_ATTRIBUTE_NAMES = {"institution": "organisation"}
    settings.AGENT_REST_API_KEY_HEADER = "Authorization"
    settings.AGENT_REST_API_KEY = "Bearer t0ken"
    settings.REGISTERFT_ISSUER_TIMEOUT = 3.0
    get_issuer.cache_clear()

    def three_seconds(request):
        return (request.req_kwargs.get("timeout") == 3.0, "wrong timeout")

    agent.post(
        f"{ISSUER_URL}/issue/process",
        json={"processId": "proc-1"},
        match=[
            matchers.header_matcher({"Authorization": "Bearer t0ken"}),
            matchers.json_params_matcher(
                {
                    "connectionId": "conn-1",
                    "credentialDefinitionId": CRED_DEF,
                    "attributes": {"first_name": "Ada", "organisation": "ETH"},
                    "userId": "ref-1",
                }
            ),
            three_seconds,
        ],
    )
    issuer = get_issuer()
    assert isinstance(issuer, AgentRestIssuer)
    issuer.offer_credential(
        connection_id="conn-1", attributes={"first_name": "Ada", "institution": "ETH"}, reference="ref-1"
    )


def test_it_builds_itself_from_its_own_settings(settings):
    settings.AGENT_REST_CONNECTION_URL = CONNECTION_URL + "/"
    settings.AGENT_REST_ISSUER_URL = ISSUER_URL
    settings.AGENT_REST_CREDENTIAL_DEFINITION_ID = CRED_DEF
    settings.AGENT_REST_ATTRIBUTE_NAMES = {"institution": "organisation"}
    settings.AGENT_REST_ACCEPTED_STATES = ["done"]
    settings.AGENT_REST_FAILED_STATES = ["gone"]
    settings.AGENT_REST_API_KEY_HEADER = "X-Agent-Key"
    settings.AGENT_REST_API_KEY = "s3cret"
    settings.REGISTERFT_ISSUER_TIMEOUT = 4.5
    issuer = AgentRestIssuer.from_settings()
    assert (issuer.connection_url, issuer.issuer_url) == (CONNECTION_URL, ISSUER_URL)
    assert issuer.credential_definition_id == CRED_DEF
    assert issuer.attribute_names == {"institution": "organisation"}
    assert (issuer.accepted_states, issuer.failed_states) == ({"DONE"}, {"GONE"})
    assert issuer.session.headers["X-Agent-Key"] == "s3cret"
    assert issuer.timeout == 4.5


# --- Health ------------------------------------------------------------------------------------


def test_its_health_is_good_when_the_agent_answers_an_unknown_connection(agent):
    agent.get(f"{CONNECTION_URL}/connection/registerft-health-check", status=404, json={"error": "unknown"})
    health = make_issuer(api_key="s3cret", api_key_header="X-API-Key").health()
    assert health.reachable
    assert "s3cret" not in str(health.settings)


def test_its_health_is_bad_when_the_agent_cannot_be_reached(agent):
    agent.get(f"{CONNECTION_URL}/connection/registerft-health-check", body=requests.ConnectionError("refused"))
    assert not make_issuer().health().reachable
