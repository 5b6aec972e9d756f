"""ACA-Py's webhooks, and the flow they drive with the agent mocked at the HTTP boundary."""

from __future__ import annotations

import io
import json
import re
import sys
from datetime import timedelta

import pytest
import requests
import responses
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from responses import matchers

from onboarding import metrics
from onboarding.models import Registration
from onboarding.views import webhooks
from registerft.wsgi import application

pytestmark = pytest.mark.django_db

ADMIN = "http://agent.test:8031"
SECRET = "hook-secret-0123456789"
DID = "did:key:z6MkportalIssuer"
State = Registration.State


class Clock:
    """``django.utils.timezone.now``, moved only by the test."""

    def __init__(self) -> None:
        self.current = timezone.now()

    def __call__(self):
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    frozen = Clock()
    monkeypatch.setattr(timezone, "now", frozen)
    return frozen


@pytest.fixture(autouse=True)
def acapy_settings(settings):
    settings.REGISTERFT_ISSUERS = ("acapy",)
    settings.ACAPY_ADMIN_URL = ADMIN
    settings.ACAPY_ADMIN_API_KEY = "admin-key"
    settings.ACAPY_WEBHOOK_SECRET = SECRET
    settings.ACAPY_ISSUER_DID = ""
    settings.REGISTERFT_WEBHOOK_FALLBACK_INTERVAL = 10.0
    return settings


@pytest.fixture
def agent():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mocked:
        yield mocked


@pytest.fixture
def hook() -> Client:
    """The agent: no cookies, no CSRF token (the check is enforced, as for a browser)."""
    return Client(enforce_csrf_checks=True)


def deliver(hook: Client, topic: str, payload, *, secret: str | None = SECRET, raw: bytes | None = None):
    headers = {"x-api-key": secret} if secret is not None else {}
    body = raw if raw is not None else json.dumps(payload)
    return hook.post(f"/webhooks/acapy/topic/{topic}/", body, content_type="application/json", headers=headers)


def make_registration(**fields) -> Registration:
    values = {"backend": "acapy", "invitation_id": "msg-1", "invitation_url": "http://agent.test:8030?oob=e30"}
    values.update(fields)
    return Registration.objects.create(**values)


def connection_event(state: str, rfc23: str, connection_id: str = "conn-1", **extra) -> dict:
    return {"connection_id": connection_id, "invitation_msg_id": "msg-1", "state": state, "rfc23_state": rfc23,
            "their_label": "holder", **extra}


def credential_event(state: str, **extra) -> dict:
    return {"connection_id": "conn-1", "cred_ex_id": "cx-1", "role": "issuer", "state": state, **extra}


# --- Who may post -------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", SECRET + "x", SECRET[:-1]])
def test_it_refuses_a_webhook_without_the_secret_and_changes_nothing(hook, secret):
    registration = make_registration()
    response = deliver(hook, "connections", connection_event("active", "completed"), secret=secret)
    assert response.status_code == 401
    registration.refresh_from_db()
    assert registration.state == State.INVITED and registration.connection_id == ""
    assert registration.checked_at is None


def test_it_refuses_every_webhook_when_no_secret_is_configured(hook, settings):
    settings.ACAPY_WEBHOOK_SECRET = ""
    make_registration()
    assert deliver(hook, "connections", connection_event("active", "completed"), secret="").status_code == 401
    assert Registration.objects.get().state == State.INVITED


def test_a_webhook_needs_no_csrf_token_and_gets_no_session(hook):
    make_registration()
    response = deliver(hook, "connections", connection_event("active", "completed"))
    assert response.status_code == 204
    assert "sessionid" not in response.cookies and "csrftoken" not in response.cookies
    assert not response.has_header("Set-Cookie")


def test_the_webhook_accepts_only_post(hook):
    response = hook.get("/webhooks/acapy/topic/connections/", headers={"x-api-key": SECRET})
    assert response.status_code == 405


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"", b"[1, 2, 3]", b'"a string"', b"\xff\xfe", json.dumps({"pad": "x" * 70_000}).encode()],
)
def test_it_answers_400_to_a_body_that_is_not_a_small_json_object(hook, raw):
    make_registration()
    assert deliver(hook, "connections", None, raw=raw).status_code == 400
    assert Registration.objects.get().state == State.INVITED


# Nesting deep enough to exhaust the parser's recursion, yet within the 64 KiB a body may have.
DEEP_LIST = b"[" * 32_000 + b"]" * 32_000
DEEP_OBJECT = b'{"a":' * 10_000 + b"1" + b"}" * 10_000


@pytest.mark.parametrize("raw", [DEEP_LIST, DEEP_OBJECT], ids=["lists", "objects"])
def test_it_answers_400_to_a_deeply_nested_body(hook, raw):
    make_registration()
    assert len(raw) <= 64 * 1024
    assert deliver(hook, "connections", None, raw=raw).status_code == 400
    assert Registration.objects.get().state == State.INVITED


def test_it_acknowledges_topics_it_does_not_need(hook):
    make_registration()
    for topic in ("basicmessages", "issue_credential_v2_0_ld_proof", "ping", "problem_report"):
        assert deliver(hook, topic, {"state": "done", "connection_id": "conn-1"}).status_code == 204
    assert Registration.objects.get().state == State.INVITED


def test_it_acknowledges_events_about_records_that_are_not_ours(hook):
    make_registration()
    other = {"connection_id": "other", "invitation_msg_id": "someone-else", "state": "active"}
    assert deliver(hook, "connections", other).status_code == 204
    assert deliver(hook, "issue_credential_v2_0", credential_event("done", cred_ex_id="other")).status_code == 204
    assert deliver(hook, "connections", {"state": "active"}).status_code == 204
    assert Registration.objects.get().state == State.INVITED


# --- Connection ---------------------------------------------------------------------------------


def test_an_active_connection_moves_the_registration_on(hook):
    make_registration()
    assert deliver(hook, "connections", connection_event("active", "completed")).status_code == 204
    registration = Registration.objects.get()
    assert registration.state == State.CONNECTED
    assert registration.connection_id == "conn-1" and registration.connected_at is not None


def test_the_issuers_response_is_not_yet_connected_but_the_wallets_completion_is(hook):
    """An offer sent before the wallet has read the issuer's response is dropped by the wallet."""
    make_registration()
    deliver(hook, "connections", connection_event("response", "response-sent"))
    assert Registration.objects.get().state == State.INVITED
    deliver(hook, "connections", connection_event("active", "completed"))
    assert Registration.objects.get().state == State.CONNECTED


def test_the_steps_on_the_way_are_acknowledged_without_a_query_or_a_write(hook):
    registration = make_registration()
    steps = [
        ("out_of_band", {"oob_id": "oob-1", "invi_msg_id": "msg-1", "connection_id": "conn-1",
                         "state": "await-response", "role": "sender"}),
        ("connections", connection_event("request", "request-received")),
        ("connections", connection_event("response", "response-sent")),
        ("issue_credential_v2_0", credential_event("offer-sent")),
        ("issue_credential_v2_0", credential_event("credential-issued")),
    ]
    for topic, payload in steps:
        with CaptureQueriesContext(connection) as queries:
            assert deliver(hook, topic, payload).status_code == 204
        assert len(queries) == 0, (topic, payload["state"])
    after = Registration.objects.get()
    assert (after.state, after.connection_id, after.checked_at) == (State.INVITED, "", registration.checked_at)


# --- Answered before Django (registerft/wsgi.py) --------------------------------------------------


def through_wsgi(topic: str, payload, *, secret: str | None = SECRET, raw: bytes | None = None, stream=None):
    """A webhook through the portal's WSGI application, as gunicorn hands it over: (status, headers)."""
    body = raw if raw is not None else json.dumps(payload).encode()
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": f"/webhooks/acapy/topic/{topic}/", "QUERY_STRING": "",
        "SERVER_NAME": "testserver", "SERVER_PORT": "80", "HTTP_HOST": "testserver", "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http", "wsgi.input": stream or io.BytesIO(body), "wsgi.errors": sys.stderr,
        "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
    }
    if secret is not None:
        environ["HTTP_X_API_KEY"] = secret
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer.update(status=int(status.split()[0]), headers=dict(headers))

    # As Django's test client does: the test's database connection must outlive the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        chunks = application(environ, start_response)
        b"".join(chunks)
        getattr(chunks, "close", lambda: None)()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return answer["status"], answer["headers"]


def test_the_steps_on_the_way_are_answered_before_django_without_a_query():
    """No request id: Django's middleware never ran. An event the flow acts on goes through it."""
    make_registration()
    for topic, payload in [("connections", connection_event("response", "response-sent")),
                           ("issue_credential_v2_0", credential_event("offer-sent")),
                           ("out_of_band", {"state": "done"})]:
        with CaptureQueriesContext(connection) as queries:
            status, headers = through_wsgi(topic, payload)
        assert (status, len(queries)) == (204, 0), topic
        assert "X-Request-ID" not in headers
    status, headers = through_wsgi("connections", connection_event("active", "completed"))
    assert status == 204 and "X-Request-ID" in headers
    assert Registration.objects.get().state == State.CONNECTED


def test_the_early_answers_are_counted_as_ignored_by_topic(settings):
    settings.REGISTERFT_METRICS = True

    def ignored(topic: str) -> float:
        labels = {"topic": topic, "outcome": "ignored"}
        return metrics.PORTAL.get_sample_value("registerft_webhook_deliveries_total", labels) or 0.0

    before = ignored("connections"), ignored("other")
    through_wsgi("connections", connection_event("request", "request-received"))
    through_wsgi("out_of_band", {"state": "done"})
    assert (ignored("connections"), ignored("other")) == (before[0] + 1, before[1] + 1)


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", json.dumps({"pad": "x" * 70_000}).encode()])
def test_a_body_the_early_answer_cannot_read_reaches_the_view_whole(raw):
    make_registration()
    status, headers = through_wsgi("connections", None, raw=raw)
    assert status == 400 and "X-Request-ID" in headers
    assert Registration.objects.get().state == State.INVITED


class BrokenStream(io.BytesIO):
    """A request body whose client went away half-way."""

    def read(self, *args):
        raise OSError("the client went away")


def test_a_body_that_breaks_off_reaches_the_view_and_gets_a_clear_400():
    """No traceback from the early answer: Django reads what is left, and the view answers 400."""
    make_registration()
    status, headers = through_wsgi("connections", connection_event("request", "request-received"),
                                   stream=BrokenStream())
    assert status == 400 and "X-Request-ID" in headers


def test_the_early_answer_watches_the_webhooks_own_path():
    assert reverse("onboarding:acapy_webhook", args=["connections"]) == webhooks.ACAPY_PATH + "connections/"


@pytest.mark.parametrize("topic, payload", [
    ("connections", connection_event("request", "request-received")),
    ("out_of_band", {"state": "done"}),
])
def test_a_step_on_the_way_without_the_secret_is_still_refused(topic, payload):
    assert through_wsgi(topic, payload, secret="wrong-secret")[0] == 401
    assert through_wsgi(topic, payload, secret=None)[0] == 401


def test_a_step_on_the_way_gets_404_when_the_portal_runs_no_acapy(settings):
    settings.REGISTERFT_ISSUERS = ("agent-rest",)
    assert through_wsgi("connections", connection_event("request", "request-received"))[0] == 404


def test_a_step_on_the_way_with_a_path_beyond_the_topic_is_not_found():
    assert through_wsgi("connections/extra", connection_event("request", "request-received"))[0] == 404


def test_a_later_connection_event_finds_the_registration_by_its_connection(hook):
    make_registration(connection_id="conn-1")
    deliver(hook, "connections", {"connection_id": "conn-1", "state": "active", "rfc23_state": "completed"})
    assert Registration.objects.get().state == State.CONNECTED


def test_repeated_and_late_connection_events_change_nothing(hook):
    make_registration()
    for payload in (
        connection_event("active", "completed"),
        connection_event("active", "completed"),  # the agent retries
        connection_event("request", "request-received"),  # delivered late
        connection_event("invitation", "invitation-sent"),
    ):
        assert deliver(hook, "connections", payload).status_code == 204
    registration = Registration.objects.get()
    assert registration.state == State.CONNECTED and registration.connection_id == "conn-1"


def test_an_abandoned_connection_is_a_failure(hook):
    make_registration()
    deliver(hook, "connections", connection_event("abandoned", "abandoned", error_msg="DID exchange rejected"))
    registration = Registration.objects.get()
    assert registration.state == State.FAILED
    assert registration.failure == Registration.Failure.CONNECTION_FAILED
    assert registration.failure_detail == "DID exchange rejected"


def test_an_abandoned_event_after_the_connection_succeeded_changes_nothing(hook):
    make_registration()
    deliver(hook, "connections", connection_event("active", "completed"))
    deliver(hook, "connections", connection_event("abandoned", "abandoned"))
    assert Registration.objects.get().state == State.CONNECTED


# --- Credential ---------------------------------------------------------------------------------


def offered_registration() -> Registration:
    now = timezone.now()
    return make_registration(
        state=State.OFFERED, connection_id="conn-1", process_id="cx-1", connected_at=now, offered_at=now,
        attributes={"first_name": "Ada"},
    )


def test_a_done_exchange_is_an_issued_credential(hook):
    offered_registration()
    for state in ("offer-sent", "request-received", "credential-issued"):
        deliver(hook, "issue_credential_v2_0", credential_event(state))
        assert Registration.objects.get().state == State.OFFERED
    deliver(hook, "issue_credential_v2_0", credential_event("done"))
    registration = Registration.objects.get()
    assert registration.state == State.ISSUED and registration.issued_at is not None


def test_an_abandoned_exchange_is_a_failure_with_the_reason(hook):
    offered_registration()
    deliver(hook, "issue_credential_v2_0", credential_event("abandoned", error_msg="issuance-abandoned: no thanks"))
    registration = Registration.objects.get()
    assert registration.state == State.FAILED
    assert registration.failure == Registration.Failure.OFFER_DECLINED
    assert registration.failure_detail == "issuance-abandoned: no thanks"


@pytest.mark.parametrize(
    ("order", "final"),
    [
        (["done", "credential-issued", "offer-sent", "done"], State.ISSUED),
        (["done", "abandoned"], State.ISSUED),
        (["abandoned", "done", "request-received"], State.FAILED),
    ],
)
def test_repeated_and_out_of_order_credential_events_keep_the_first_outcome(hook, order, final):
    offered_registration()
    for state in order:
        assert deliver(hook, "issue_credential_v2_0", credential_event(state)).status_code == 204
    assert Registration.objects.get().state == final


def test_the_holders_side_of_an_exchange_is_ignored(hook):
    offered_registration()
    deliver(hook, "issue_credential_v2_0", credential_event("abandoned", role="holder"))
    assert Registration.objects.get().state == State.OFFERED


# --- The flow with the agent mocked -------------------------------------------------------------


def mock_invitation(agent) -> None:
    agent.post(
        f"{ADMIN}/out-of-band/create-invitation",
        match=[matchers.query_param_matcher({"auto_accept": "true"})],
        json={"invi_msg_id": "msg-1", "oob_id": "oob-1", "state": "initial",
              "invitation": {"@id": "msg-1"}, "invitation_url": "http://agent.test:8030?oob=eyJAaWQiOiJtc2ctMSJ9"},
    )


def mock_did_and_offer(agent, callback=None) -> None:
    agent.post(f"{ADMIN}/wallet/did/create", json={"result": {"did": DID}})
    if callback is None:
        agent.post(f"{ADMIN}/issue-credential-2.0/send", json={"cred_ex_id": "cx-1", "state": "offer-sent"})
    else:
        agent.add_callback(responses.POST, f"{ADMIN}/issue-credential-2.0/send", callback=callback,
                           content_type="application/json")


FORM = {"first_name": "Ada", "last_name": "Lovelace", "institution": "Analytical Engines"}


def test_with_webhooks_flowing_status_polls_never_reach_the_agent(client, hook, agent, clock):
    """Done when: any number of polls cost no agent request beyond the invitation, the DID (once),
    the offer, and the rare fallback checks."""
    mock_invitation(agent)
    mock_did_and_offer(agent)
    assert client.get("/").status_code == 200
    for _ in range(50):
        # A wallet scanning within the fallback interval: the page polls, the agent reports the
        # steps on the way, and nothing reaches the agent.
        assert client.get("/check_connection/status").json()["state"] == "waiting"
        clock.advance(0.15)
        if _ % 10 == 0:
            deliver(hook, "connections", connection_event("request", "request-received"))
    deliver(hook, "connections", connection_event("active", "completed"))
    assert client.get("/check_connection/status").json()["next"] == "/name"

    assert client.post("/name", FORM).status_code == 302
    for _ in range(50):
        assert client.get("/loading/status").json()["state"] == "waiting"
        clock.advance(0.1)
    deliver(hook, "issue_credential_v2_0", credential_event("credential-issued"))
    deliver(hook, "issue_credential_v2_0", credential_event("done"))
    assert client.get("/loading/status").json()["next"] == "/success"
    assert client.get("/success").status_code == 200

    called = [call.request.url.split("?")[0].removeprefix(ADMIN) for call in agent.calls]
    assert called == ["/out-of-band/create-invitation", "/wallet/did/create", "/issue-credential-2.0/send"]


def test_without_webhooks_the_agent_is_asked_at_most_once_per_fallback_interval(client, agent, clock):
    mock_invitation(agent)
    by_invitation = agent.get(
        f"{ADMIN}/connections", match=[matchers.query_param_matcher({"invitation_msg_id": "msg-1"})],
        json={"results": [connection_event("request", "request-received")]},
    )
    # Once the connection is known, it is asked for by its id.
    by_id = agent.get(f"{ADMIN}/connections/conn-1", json=connection_event("request", "request-received"))
    client.get("/")
    for _ in range(100):  # 100 polls over 30 seconds
        client.get("/check_connection/status")
        clock.advance(0.3)
    # Checks 10 s and 20 s after the invitation, however many polls came in between.
    assert (by_invitation.call_count, by_id.call_count) == (1, 1)
    assert Registration.objects.get().connection_id == "conn-1"


def test_a_failed_fallback_check_says_the_issuer_is_unavailable_and_the_flow_goes_on(client, agent, clock):
    mock_invitation(agent)
    agent.get(f"{ADMIN}/connections/conn-1", body=requests.ConnectionError("refused"))
    agent.get(f"{ADMIN}/connections/conn-1", json=connection_event("active", "completed"))
    client.get("/")
    Registration.objects.update(connection_id="conn-1")
    clock.advance(11)
    status = client.get("/check_connection/status")
    assert status.status_code == 200
    assert status.json()["issuer"] == "unavailable" and status.json()["state"] == "waiting"
    assert status.json()["message"]  # "the issuer cannot be reached", in the visitor's language
    clock.advance(11)
    assert client.get("/check_connection/status").json() == {
        "state": "moved", "next": "/name", "message": "", "issuer": "ok", "in_place": True
    }


def test_the_wallets_answer_may_overtake_the_agents_answer_to_the_offer(client, hook, agent, clock):
    """A fast wallet: "done" arrives while the portal still waits for the offer's own answer."""
    mock_invitation(agent)

    def offer_sent_and_already_accepted(request):
        assert deliver(hook, "issue_credential_v2_0", credential_event("offer-sent")).status_code == 204
        assert deliver(hook, "issue_credential_v2_0", credential_event("done")).status_code == 204
        return 200, {}, json.dumps({"cred_ex_id": "cx-1", "state": "offer-sent"})

    mock_did_and_offer(agent, offer_sent_and_already_accepted)
    client.get("/")
    deliver(hook, "connections", connection_event("active", "completed"))
    response = client.post("/name", FORM)
    assert response.status_code == 302
    registration = Registration.objects.get()
    assert registration.state == State.ISSUED and registration.process_id == "cx-1"
    assert client.get("/loading/status").json()["next"] == "/success"


def test_a_declined_offer_shows_the_visitor_a_failure(client, hook, agent):
    mock_invitation(agent)
    mock_did_and_offer(agent)
    client.get("/")
    deliver(hook, "connections", connection_event("active", "completed"))
    client.post("/name", FORM)
    deliver(hook, "issue_credential_v2_0", credential_event("abandoned", error_msg="issuance-abandoned: no"))
    status = client.get("/loading/status").json()
    assert status["state"] == "failed" and status["message"]
    page = client.get("/loading/")
    assert page.status_code == 200
    assert re.search(r"restart", page.content.decode())
    # The wallet's own words come with our summary, escaped like any text.
    assert re.search(r'class="failure-reason">[^<]*<q>issuance-abandoned: no</q>', page.content.decode())


def test_the_agents_reason_is_shown_without_direction_overrides_and_cut_short(client, hook, agent):
    mock_invitation(agent)
    mock_did_and_offer(agent)
    client.get("/")
    deliver(hook, "connections", connection_event("active", "completed"))
    client.post("/name", FORM)
    reason = "declined\u202e by \u2066holder\u2069\x07 " + "x" * 290
    deliver(hook, "issue_credential_v2_0", credential_event("abandoned", error_msg=reason))
    page = client.get("/loading/").content.decode()
    shown = re.search(r'class="failure-reason">[^<]*<q>([^<]*)</q>', page).group(1)
    assert shown.startswith("declined by holder xxx") and shown.endswith("…")
    assert len(shown) == 200


def test_a_failure_without_a_reason_from_the_agent_shows_only_the_summary(client, agent, clock, settings):
    mock_invitation(agent)
    client.get("/")
    clock.advance(settings.REGISTERFT_INVITATION_TTL + 1)
    page = client.get("/check_connection/").content.decode()
    assert 'class="failure"' in page and "failure-reason" not in page


def test_an_agents_answer_echoing_the_visitors_details_stays_out_of_the_logs(client, hook, agent, clock, caplog):
    """A malformed exchange record carries the credential's attributes; the fallback check's
    error is logged, but without the agent's answer."""
    caplog.set_level("DEBUG")
    mock_invitation(agent)
    mock_did_and_offer(agent)
    client.get("/")
    deliver(hook, "connections", connection_event("active", "completed"))
    assert client.post("/name", FORM).status_code == 302
    agent.get(f"{ADMIN}/issue-credential-2.0/records/cx-1",
              json={"cred_ex_record": {"cred_offer": {"credentialSubject": FORM}}})
    clock.advance(11)

    status = client.get("/loading/status").json()

    assert status["issuer"] == "unavailable" and status["state"] == "waiting"
    assert "issuer check failed" in caplog.text
    for value in FORM.values():
        assert value not in caplog.text


def test_an_event_moves_only_registrations_of_its_own_backend(hook):
    """Ids of another backend may look alike: an ACA-Py event never moves a demo registration."""
    demo = Registration.objects.create(backend="demo", invitation_id="inv-shared", invitation_url="/d",
                                       connection_id="conn-shared", process_id="cred-shared",
                                       state=State.OFFERED)
    invited = Registration.objects.create(backend="demo", invitation_id="inv-2", invitation_url="/d2")

    deliver(hook, "connections", {"state": "active", "connection_id": "conn-x", "invitation_msg_id": "inv-2"})
    deliver(hook, "issue_credential_v2_0", {"state": "done", "cred_ex_id": "cred-shared",
                                            "connection_id": "conn-shared", "role": "issuer"})

    demo.refresh_from_db(), invited.refresh_from_db()
    assert (demo.state, invited.state) == (State.OFFERED, State.INVITED)


def test_a_wallets_problem_report_ends_the_doors_request_as_declined(hook):
    from onboarding.models import DoorRequest

    door_request = DoorRequest.objects.create(backend="acapy", door="North", request_id="px-1", thread_id="th-1",
                                              invitation_url="http://agent.test:8030?oob=e30")
    other = DoorRequest.objects.create(backend="acapy", door="North", request_id="px-2", thread_id="th-2",
                                       invitation_url="http://agent.test:8030?oob=e30")
    report = {"@type": "https://didcomm.org/notification/1.0/problem-report", "~thread": {"thid": "th-1"},
              "description": {"en": "declined", "code": "abandoned"}}
    assert deliver(hook, "problem_report", report).status_code == 204
    assert DoorRequest.objects.get(pk=door_request.pk).state == "declined"
    assert DoorRequest.objects.get(pk=other.pk).state == "pending"
