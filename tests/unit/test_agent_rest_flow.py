"""The whole flow with ``REGISTERFT_ISSUERS=agent-rest``, through the test client.

The agent is mocked at the HTTP boundary; the portal's clock is frozen, so the throttling of the
issuer's state checks is tested without sleeping.
"""

from __future__ import annotations

import logging
import re

import pytest
import requests
import responses
from responses import matchers

from onboarding.issuers import get_issuer
from onboarding.models import Registration

pytestmark = pytest.mark.django_db

CONNECTION_URL = "http://agent.example:9000"
ISSUER_URL = "http://issuer.example:9001"
CRED_DEF = "cred-def-1"
INTERVAL = 3.0
INVITATION_URL = "https://agent.example/invite?c_i=eyJAdHlwZSI6ICJpbnZpdGF0aW9uIn0"
DETAILS = {"first_name": " Ada ", "last_name": "Lovelace", "institution": "Analytical Engines"}

CONNECTION = f"{CONNECTION_URL}/connection/conn-1"
PROCESS_STATE = f"{ISSUER_URL}/issue/process/proc-1/state"
UNAVAILABLE = "cannot be reached"
TOO_LONG = "taking too long"
UNEXPECTED = "did not expect"


@pytest.fixture
def agent(settings):
    settings.REGISTERFT_ISSUERS = ("agent-rest",)
    settings.AGENT_REST_CONNECTION_URL = CONNECTION_URL
    settings.AGENT_REST_ISSUER_URL = ISSUER_URL
    settings.AGENT_REST_CREDENTIAL_DEFINITION_ID = CRED_DEF
    settings.AGENT_REST_ATTRIBUTE_NAMES = {"first_name": "firstName", "last_name": "lastName"}
    settings.AGENT_REST_API_KEY = ""
    settings.REGISTERFT_STATUS_CHECK_INTERVAL = INTERVAL
    get_issuer.cache_clear()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def visitor(client):
    # English: the assertions read the source strings, whatever the catalogues hold.
    client.cookies["django_language"] = "en"
    return client


def answer_invitation(agent, connection_id: str = "conn-1", **kwargs) -> None:
    if not kwargs:
        kwargs = {"json": {"invitationUrl": INVITATION_URL, "connectionId": connection_id}}
    agent.post(f"{CONNECTION_URL}/connection/invitation", **kwargs)


def calls_to(agent, url: str) -> int:
    return sum(1 for call in agent.calls if call.request.url == url)


def connected(agent, visitor, clock) -> Registration:
    """A visitor whose wallet has connected: on /name."""
    answer_invitation(agent)
    assert visitor.get("/").status_code == 200
    clock.advance(INTERVAL)
    agent.get(CONNECTION, json="established")
    assert visitor.get("/check_connection/status").json()["next"] == "/name"
    return Registration.objects.get()


def offered(agent, visitor, clock) -> Registration:
    """A visitor whose credential has been offered: on /loading/."""
    registration = connected(agent, visitor, clock)
    agent.post(f"{ISSUER_URL}/issue/process", json={"processId": "proc-1"})
    assert visitor.post("/name", DETAILS)["Location"] == "/loading/"
    registration.refresh_from_db()
    return registration


# --- The happy path ---------------------------------------------------------------------------


def test_a_visitor_reaches_success_with_the_agent_rest_issuer(agent, visitor, clock):
    answer_invitation(agent)
    start = visitor.get("/")
    assert start.status_code == 200
    assert "<svg" in start.content.decode()
    registration = Registration.objects.get()
    assert registration.backend == "agent-rest"
    assert registration.connection_id == "conn-1"

    clock.advance(INTERVAL)
    agent.get(CONNECTION, json="established")
    assert visitor.get("/check_connection/status").json() == {
        "state": "moved", "next": "/name", "message": "", "issuer": "ok", "in_place": True
    }

    agent.post(
        f"{ISSUER_URL}/issue/process",
        json={"processId": "proc-1"},
        match=[
            matchers.json_params_matcher(
                {
                    "connectionId": "conn-1",
                    "credentialDefinitionId": CRED_DEF,
                    "attributes": {
                        "firstName": "Ada", "lastName": "Lovelace", "institution": "Analytical Engines"
                    },
                    # The registration's id, never a name.
                    "userId": str(registration.pk),
                }
            )
        ],
    )
    response = visitor.post("/name", DETAILS)
    assert response.status_code == 302 and response["Location"] == "/loading/"

    clock.advance(INTERVAL)
    agent.get(PROCESS_STATE, json="IN_PROGRESS")
    assert visitor.get("/loading/status").json()["state"] == "waiting"

    clock.advance(INTERVAL)
    agent.get(PROCESS_STATE, json="DONE")
    assert visitor.get("/loading/status").json()["next"] == "/success"
    assert visitor.get("/success").status_code == 200
    registration.refresh_from_db()
    assert registration.state == Registration.State.ISSUED
    assert registration.process_id == "proc-1"


def test_reloading_the_start_page_asks_the_agent_for_one_invitation_only(agent, visitor):
    answer_invitation(agent)
    for _ in range(3):
        assert visitor.get("/").status_code == 200
    assert calls_to(agent, f"{CONNECTION_URL}/connection/invitation") == 1


# --- Throttling the state checks ------------------------------------------------------------


def test_connection_polls_ask_the_agent_at_most_once_per_interval(agent, visitor, clock):
    answer_invitation(agent)
    visitor.get("/")
    agent.get(CONNECTION, json="invited")

    for _ in range(10):  # the invitation was just created: nothing to ask yet
        assert visitor.get("/check_connection/status").json()["state"] == "waiting"
    assert calls_to(agent, CONNECTION) == 0

    clock.advance(INTERVAL)
    for _ in range(10):
        visitor.get("/check_connection/status")
    visitor.get("/check_connection/")  # the page itself (refreshed without JavaScript) counts too
    assert calls_to(agent, CONNECTION) == 1

    clock.advance(INTERVAL - 0.5)
    for _ in range(10):
        visitor.get("/check_connection/status")
    assert calls_to(agent, CONNECTION) == 1

    clock.advance(0.5)
    for _ in range(10):
        visitor.get("/check_connection/status")
    assert calls_to(agent, CONNECTION) == 2


def test_each_registration_has_its_own_check_interval(agent, visitor, clock):
    other = type(visitor)()
    answer_invitation(agent, "conn-1")
    answer_invitation(agent, "conn-2")
    visitor.get("/")
    other.get("/")
    agent.get(CONNECTION, json="invited")
    agent.get(f"{CONNECTION_URL}/connection/conn-2", json="invited")

    clock.advance(INTERVAL)
    for _ in range(5):
        visitor.get("/check_connection/status")
        other.get("/check_connection/status")
    assert calls_to(agent, CONNECTION) == 1
    assert calls_to(agent, f"{CONNECTION_URL}/connection/conn-2") == 1


def test_credential_polls_ask_the_agent_at_most_once_per_interval(agent, visitor, clock):
    offered(agent, visitor, clock)
    agent.get(PROCESS_STATE, json="IN_PROGRESS")

    for _ in range(10):
        visitor.get("/loading/status")
    assert calls_to(agent, PROCESS_STATE) == 0

    clock.advance(INTERVAL)
    for _ in range(10):
        assert visitor.get("/loading/status").json()["state"] == "waiting"
    visitor.get("/loading/")
    assert calls_to(agent, PROCESS_STATE) == 1


# --- Issuer failures on each step -------------------------------------------------------------

FAILURES = [
    pytest.param({"status": 503, "body": "down"}, 503, UNAVAILABLE, id="503"),
    pytest.param({"status": 502, "body": "bad gateway"}, 503, UNAVAILABLE, id="502"),
    pytest.param({"body": requests.ConnectionError("refused")}, 503, UNAVAILABLE, id="refused"),
    pytest.param({"body": requests.ReadTimeout("slow")}, 504, TOO_LONG, id="timeout"),
    pytest.param({"status": 400, "json": {"error": "bad"}}, 502, UNEXPECTED, id="400"),
    pytest.param({"status": 500, "body": "oops"}, 502, UNEXPECTED, id="500"),
    pytest.param({"status": 200, "body": "<html>", "content_type": "text/html"}, 502, UNEXPECTED, id="not-json"),
]


@pytest.mark.parametrize("answer, status, message", FAILURES)
def test_the_start_page_explains_an_issuer_failure(agent, visitor, answer, status, message):
    answer_invitation(agent, **answer)
    response = visitor.get("/")
    assert response.status_code == status
    assert message in response.content.decode()
    assert not Registration.objects.exists()


@pytest.mark.parametrize("answer, status, message", FAILURES)
def test_the_connection_page_explains_an_issuer_failure(agent, visitor, clock, answer, status, message):
    answer_invitation(agent)
    visitor.get("/")
    clock.advance(INTERVAL)
    agent.get(CONNECTION, **answer)
    response = visitor.get("/check_connection/")
    assert response.status_code == status
    assert message in response.content.decode()
    assert Registration.objects.get().state == Registration.State.INVITED


@pytest.mark.parametrize("answer, status, message", FAILURES)
def test_the_status_endpoint_keeps_the_page_waiting_and_says_why(agent, visitor, clock, answer, status, message):
    answer_invitation(agent)
    visitor.get("/")
    clock.advance(INTERVAL)
    agent.get(CONNECTION, **answer)
    response = visitor.get("/check_connection/status")
    # The page's script shows the message and backs off; it keeps polling.
    assert response.status_code == 200
    payload = response.json()
    assert payload["state"] == "waiting"
    assert payload["issuer"] == "unavailable"
    assert message in payload["message"]


@pytest.mark.parametrize("answer, status, message", FAILURES)
def test_the_details_form_comes_back_with_what_was_typed(agent, visitor, clock, answer, status, message):
    connected(agent, visitor, clock)
    agent.post(f"{ISSUER_URL}/issue/process", **answer)
    response = visitor.post("/name", DETAILS)
    assert response.status_code == status
    page = response.content.decode()
    assert message in page
    assert 'value="Lovelace"' in page
    assert 'value="Analytical Engines"' in page
    assert Registration.objects.get().state == Registration.State.CONNECTED

    # Reloading the form still shows what the visitor typed, and a second try works.
    again = visitor.get("/name")
    assert again.status_code == 200
    assert 'value="Lovelace"' in again.content.decode()
    agent.post(f"{ISSUER_URL}/issue/process", json={"processId": "proc-1"})
    assert visitor.post("/name", DETAILS)["Location"] == "/loading/"


def test_a_failed_offer_is_logged_without_the_visitors_details(agent, visitor, clock, caplog):
    connected(agent, visitor, clock)
    # Some agents echo the attributes they refuse.
    agent.post(f"{ISSUER_URL}/issue/process", status=400, body='{"error": "bad attribute lastName=Lovelace"}')
    caplog.set_level(logging.DEBUG)
    assert visitor.post("/name", DETAILS).status_code == 502
    assert "Lovelace" not in caplog.text
    assert "Analytical" not in caplog.text


@pytest.mark.parametrize("answer, status, message", FAILURES)
def test_the_loading_page_explains_an_issuer_failure(agent, visitor, clock, answer, status, message):
    offered(agent, visitor, clock)
    clock.advance(INTERVAL)
    agent.get(PROCESS_STATE, **answer)
    response = visitor.get("/loading/")
    assert response.status_code == status
    assert message in response.content.decode()
    assert Registration.objects.get().state == Registration.State.OFFERED


# --- What the agent's states mean -------------------------------------------------------------


def test_a_failed_process_is_a_failure_with_start_again(agent, visitor, clock):
    offered(agent, visitor, clock)
    clock.advance(INTERVAL)
    agent.get(PROCESS_STATE, json="DECLINED")
    status = visitor.get("/loading/status").json()
    assert status["state"] == "failed"
    assert status["next"] == "/loading/"
    page = visitor.get("/loading/")
    assert page.status_code == 200
    assert 'action="/restart/"' in page.content.decode()
    assert visitor.get("/success").status_code == 302


def test_an_unknown_state_keeps_the_visitor_waiting_then_times_out(agent, visitor, clock, settings):
    offered(agent, visitor, clock)
    agent.get(PROCESS_STATE, json="SOMETHING_ELSE")
    for _ in range(3):
        clock.advance(INTERVAL)
        assert visitor.get("/loading/status").json()["state"] == "waiting"

    clock.advance(settings.REGISTERFT_OFFER_TTL)
    status = visitor.get("/loading/status").json()
    assert status["state"] == "failed"
    registration = Registration.objects.get()
    assert registration.state == Registration.State.FAILED
    assert registration.failure == Registration.Failure.OFFER_EXPIRED
    assert visitor.get("/success").status_code == 302


def test_a_wallet_that_accepts_just_before_the_deadline_still_succeeds(agent, visitor, clock, settings):
    offered(agent, visitor, clock)
    clock.advance(settings.REGISTERFT_OFFER_TTL + 1)
    agent.get(PROCESS_STATE, json="ISSUED")
    assert visitor.get("/loading/status").json()["next"] == "/success"


def test_the_start_page_links_the_wallet_to_the_agents_invitation(agent, visitor):
    answer_invitation(agent)
    page = visitor.get("/").content.decode()
    short_link = re.search(r'id="invitation-url"[^>]*value="([^"]+)"', page).group(1)
    assert short_link.startswith("http://testserver/i/")
    redirect = visitor.get(short_link.replace("http://testserver", ""))
    assert redirect.status_code == 302
    assert redirect["Location"] == INVITATION_URL
