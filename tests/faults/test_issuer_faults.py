"""Every step of the flow against a misbehaving issuer on loopback, for every kind of fault.

A real HTTP server (the fake agent of ``tests.fakes``, one operation broken) answers the portal's
real issuer backend, so that refused connections, timeouts and broken bodies go through
``requests`` as they would at an event.
The portal's clock is frozen: the check interval is moved by the test, only timeouts take real time.

For each step and fault the visitor gets a page with the right status (502 a wrong answer, 503
unreachable, 504 too slow) and a message that says so, never a traceback; nothing of the
registration or of what was typed is lost; polls ask the issuer at most once per check interval;
and once the issuer behaves again the flow goes on without the visitor starting over.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass

import pytest

from onboarding.issuers import get_issuer
from onboarding.models import Registration
from tests.fakes import Fault, FakeAgent

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(60)]

TIMEOUT = 0.5
INTERVAL = 3.0
DETAILS = {"first_name": "Ada", "last_name": "Lovelace", "institution": "Analytical Engines"}

UNREACHABLE = "cannot be reached"
TOO_LONG = "taking too long"
UNEXPECTED = "did not expect"


@dataclass(frozen=True)
class Expected:
    status: int
    message: str = ""

    @property
    def is_error(self) -> bool:
        return self.status != 200


EXPECTED = {
    Fault.REFUSE: Expected(503, UNREACHABLE),
    Fault.TIMEOUT: Expected(504, TOO_LONG),
    # Slow but in time: the visitor notices nothing.
    Fault.SLOW: Expected(200),
    # A server error is an answer the API does not promise; a gateway's 502/503 says the agent
    # behind it is down for the moment.
    Fault.HTTP_500: Expected(502, UNEXPECTED),
    Fault.HTTP_502: Expected(503, UNREACHABLE),
    Fault.HTTP_503: Expected(503, UNREACHABLE),
    # The portal's own key is wrong: the visitor can do nothing about it, and is told so.
    Fault.HTTP_401: Expected(502, UNEXPECTED),
    Fault.BAD_JSON: Expected(502, UNEXPECTED),
    Fault.WRONG_SHAPE: Expected(502, UNEXPECTED),
    # A state the backend does not know is neither success nor failure: the visitor keeps waiting.
    Fault.UNKNOWN_STATE: Expected(200),
}
ANSWER_FAULTS = [fault for fault in Fault if fault != Fault.UNKNOWN_STATE]

BACKENDS = ["agent-rest"]
if importlib.util.find_spec("onboarding.issuers.acapy") is not None:
    BACKENDS.append("acapy")


@pytest.fixture
def issuer():
    # One request per connection, so that a refusal really refuses; the test plays the wallet.
    agent = FakeAgent(keep_alive=False, client_timeout=TIMEOUT)
    agent.start()
    yield agent
    agent.stop()


@pytest.fixture(params=BACKENDS)
def portal(request, settings, issuer):
    """The portal's settings pointed at the fake agent, with the backend of this parameter."""
    settings.REGISTERFT_ISSUERS = (request.param,)
    settings.REGISTERFT_ISSUER_TIMEOUT = TIMEOUT
    settings.REGISTERFT_STATUS_CHECK_INTERVAL = INTERVAL
    settings.REGISTERFT_WEBHOOK_FALLBACK_INTERVAL = INTERVAL
    settings.AGENT_REST_CONNECTION_URL = issuer.base_url
    settings.AGENT_REST_ISSUER_URL = issuer.base_url
    settings.AGENT_REST_API_KEY = ""
    settings.AGENT_REST_CREDENTIAL_DEFINITION_ID = "cred-def"
    if request.param == "acapy":
        settings.ACAPY_ADMIN_URL = issuer.base_url
        settings.ACAPY_ADMIN_API_KEY = ""
        settings.ACAPY_ISSUER_DID = ""
    get_issuer.cache_clear()
    return request.param


@pytest.fixture
def visitor(client):
    # English: the assertions read the source strings, whatever the catalogues hold.
    client.cookies["django_language"] = "en"
    return client


def assert_clear_page(response, expected: Expected) -> str:
    """The status, the message for this kind of fault, and no trace of the portal's insides."""
    body = response.content.decode()
    assert response.status_code == expected.status, body[:500]
    if expected.message:
        assert expected.message in body
    assert "Traceback" not in body
    assert 'File "' not in body
    assert "<h1>" + str(expected.status) not in body  # the agent's own HTML page is not passed on
    return body


def on_check_connection(visitor, clock) -> Registration:
    assert visitor.get("/").status_code == 200
    clock.advance(INTERVAL)
    return Registration.objects.get()


def on_name(visitor, clock, issuer) -> Registration:
    on_check_connection(visitor, clock)
    issuer.connect()
    assert visitor.get("/check_connection/status").json()["next"] == "/name"
    return Registration.objects.get()


def on_loading(visitor, clock, issuer) -> Registration:
    on_name(visitor, clock, issuer)
    assert visitor.post("/name", DETAILS)["Location"] == "/loading/"
    clock.advance(INTERVAL)
    return Registration.objects.get()


# --- Step 1: the start page creates the invitation ------------------------------------------


@pytest.mark.parametrize("fault", ANSWER_FAULTS)
def test_the_start_page_explains_a_faulty_issuer_and_recovers(portal, issuer, visitor, clock, fault):
    expected = EXPECTED[fault]
    issuer.break_(fault, "create_invitation")

    response = visitor.get("/")

    body = assert_clear_page(response, expected)
    retry_url = "/"
    if expected.is_error:
        assert not Registration.objects.exists()
        assert "<svg" not in body
        # The page tries again by itself, waiting longer after each failure.
        retry = re.search(r'data-retry-url="([^"]+)" data-retry-in="(\d+)"', body)
        assert retry and retry.group(1) == "/?retry=1" and response["Retry-After"] == retry.group(2)
        still_failing = visitor.get(retry.group(1))
        later = re.search(r'data-retry-url="([^"]+)" data-retry-in="(\d+)"', still_failing.content.decode())
        assert later.group(1) == "/?retry=2" and int(later.group(2)) == 2 * int(retry.group(2))
        retry_url = later.group(1)
    issuer.heal()
    again = visitor.get(retry_url)
    assert again.status_code == 200
    assert "<svg" in again.content.decode()
    assert Registration.objects.count() == 1


# --- Step 2: waiting for the wallet to connect ----------------------------------------------


@pytest.mark.parametrize("fault", list(Fault))
def test_the_connection_page_explains_a_faulty_issuer_and_recovers(portal, issuer, visitor, clock, fault):
    expected = EXPECTED[fault]
    registration = on_check_connection(visitor, clock)
    issuer.break_(fault, "connection_status")

    assert_clear_page(visitor.get("/check_connection/"), expected)

    assert Registration.objects.get().state == Registration.State.INVITED
    assert Registration.objects.get().pk == registration.pk
    issuer.heal()
    issuer.connect()
    clock.advance(INTERVAL)
    assert visitor.get("/check_connection/status").json()["next"] == "/name"


@pytest.mark.parametrize("fault", list(Fault))
def test_connection_polls_say_why_nothing_moves_and_spare_the_issuer(portal, issuer, visitor, clock, fault):
    expected = EXPECTED[fault]
    on_check_connection(visitor, clock)
    issuer.break_(fault, "connection_status")

    first = visitor.get("/check_connection/status")
    for _ in range(5):
        later = visitor.get("/check_connection/status")

    for response in (first, later):
        assert response.status_code == 200
        payload = response.json()
        assert payload["state"] == "waiting"
        assert payload["next"] is None
        assert payload["issuer"] == ("unavailable" if expected.is_error else "ok")
        assert expected.message in payload["message"]
    # Six polls within one interval: the issuer was asked once (not at all after a refusal).
    assert issuer.count("connection_status") <= 1
    clock.advance(INTERVAL)
    visitor.get("/check_connection/status")
    assert issuer.count("connection_status") <= 2
    issuer.heal()
    issuer.connect()
    clock.advance(INTERVAL)
    assert visitor.get("/check_connection/status").json()["next"] == "/name"


# --- Step 3: the details form sends the offer ----------------------------------------------------


@pytest.mark.parametrize("fault", ANSWER_FAULTS)
def test_the_details_form_survives_a_faulty_issuer(portal, issuer, visitor, clock, fault):
    expected = EXPECTED[fault]
    on_name(visitor, clock, issuer)
    issuer.break_(fault, "offer_credential")

    response = visitor.post("/name", DETAILS)

    if not expected.is_error:
        assert response.status_code == 302 and response["Location"] == "/loading/"
        return
    page = assert_clear_page(response, expected)
    assert 'value="Lovelace"' in page
    assert 'value="Analytical Engines"' in page
    registration = Registration.objects.get()
    assert registration.state == Registration.State.CONNECTED
    assert registration.attributes["last_name"] == "Lovelace"
    # One submit is at most one call (no retries behind the visitor's back; a refused connection
    # never reaches the agent); a second submit while the issuer still fails is one more.
    first = issuer.count("offer_credential")
    assert first <= 1
    again = visitor.post("/name", DETAILS)
    assert again.status_code == response.status_code
    assert issuer.count("offer_credential") == 2 * first
    issuer.heal()
    reloaded = visitor.get("/name")
    assert 'value="Lovelace"' in reloaded.content.decode()
    assert visitor.post("/name", DETAILS)["Location"] == "/loading/"
    assert Registration.objects.get().state == Registration.State.OFFERED


# --- Step 4: waiting for the wallet to accept --------------------------------------------------


@pytest.mark.parametrize("fault", list(Fault))
def test_the_loading_page_explains_a_faulty_issuer_and_recovers(portal, issuer, visitor, clock, fault):
    expected = EXPECTED[fault]
    on_loading(visitor, clock, issuer)
    issuer.break_(fault, "credential_status")

    assert_clear_page(visitor.get("/loading/"), expected)

    registration = Registration.objects.get()
    assert registration.state == Registration.State.OFFERED
    assert registration.attributes["last_name"] == "Lovelace"
    issuer.heal()
    issuer.accept()
    clock.advance(INTERVAL)
    assert visitor.get("/loading/status").json()["next"] == "/success"
    assert visitor.get("/success").status_code == 200


@pytest.mark.parametrize("fault", list(Fault))
def test_credential_polls_say_why_nothing_moves_and_spare_the_issuer(portal, issuer, visitor, clock, fault):
    expected = EXPECTED[fault]
    on_loading(visitor, clock, issuer)
    issuer.break_(fault, "credential_status")

    responses = [visitor.get("/loading/status") for _ in range(6)]

    for response in responses:
        assert response.status_code == 200
        payload = response.json()
        assert payload["state"] == "waiting"
        assert payload["issuer"] == ("unavailable" if expected.is_error else "ok")
        assert expected.message in payload["message"]
    assert issuer.count("credential_status") <= 1
    issuer.heal()
    issuer.accept()
    clock.advance(INTERVAL)
    assert visitor.get("/loading/status").json()["next"] == "/success"
    assert Registration.objects.get().state == Registration.State.ISSUED
