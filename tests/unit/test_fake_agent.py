"""The fake issuer agent (tests.fakes) speaks what the portal's backends expect, plays the wallets
and sends webhooks, so that `make bench`, the load test and the multi-instance tests go through the
real code paths. No load here: a few calls over loopback. Its faults: test_fake_agent_faults.py."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from onboarding.issuers.agent_rest import AgentRestIssuer
from onboarding.issuers.base import ConnectionState, CredentialState
from tests.fakes import FakeAgent

pytestmark = pytest.mark.timeout(30)

KEY = "admin-key"
HEADERS = {"X-API-Key": KEY}


@pytest.fixture(autouse=True)
def _no_call_bound(settings):
    """The fake's shapes are under test here, not the shared bound on concurrent calls."""
    settings.REGISTERFT_MAX_ISSUER_CALLS = 0


@pytest.fixture
def webhooks() -> Iterator[tuple[str, list[tuple[str, dict, dict]]]]:
    """A receiver standing in for the portal's webhook URL: (path, headers, payload) per POST."""
    received: list[tuple[str, dict, dict]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, dict(self.headers), json.loads(body)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/webhooks/acapy", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def agent() -> Iterator[FakeAgent]:
    fake = FakeAgent(connect_delay=0.05, accept_delay=0.05, api_key=KEY)
    fake.start()
    yield fake
    fake.stop()


def eventually(check: Callable[[], bool], *, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the fake agent did not get there in time"
        time.sleep(0.02)


def agent_rest(agent: FakeAgent) -> AgentRestIssuer:
    return AgentRestIssuer(
        connection_url=agent.base_url, issuer_url=agent.base_url, credential_definition_id="bench:1",
        attribute_names={}, accepted_states=["DONE"], failed_states=["FAILED"], timeout=5,
        api_key_header="X-API-Key", api_key=KEY,
    )


def test_it_walks_the_agent_rest_flow_once_the_wallet_fetched_the_invitation(agent):
    issuer = agent_rest(agent)
    invitation = issuer.create_invitation(label="bench")
    pending = issuer.connection_status(invitation_id=invitation.invitation_id, connection_id=invitation.connection_id)
    assert pending.state == ConnectionState.PENDING

    assert requests.get(invitation.url, timeout=5).status_code == 200  # the wallet scans the QR code
    eventually(lambda: issuer.connection_status(
        invitation_id=invitation.invitation_id, connection_id=invitation.connection_id
    ).state == ConnectionState.CONNECTED)

    offer = issuer.offer_credential(connection_id=invitation.connection_id, attributes={"name": "A"}, reference="r")
    eventually(lambda: issuer.credential_status(process_id=offer.process_id).state == CredentialState.ACCEPTED)

    summary = agent.summary()
    assert summary["completed"] == 1
    assert summary["operations"]["rest.create_invitation"] == 1
    assert summary["operations"]["rest.process"] == 1


def test_a_held_wallet_never_accepts_the_offer(agent):
    issuer = agent_rest(agent)
    invitation = issuer.create_invitation(label="bench")
    requests.get(invitation.url + "&hold=1", timeout=5)
    eventually(lambda: issuer.connection_status(
        invitation_id=invitation.invitation_id, connection_id=invitation.connection_id
    ).state == ConnectionState.CONNECTED)
    offer = issuer.offer_credential(connection_id=invitation.connection_id, attributes={"name": "A"}, reference="r")
    time.sleep(0.2)
    assert issuer.credential_status(process_id=offer.process_id).state == CredentialState.PENDING


def test_it_refuses_calls_without_the_admin_key(agent):
    answer = requests.post(f"{agent.base_url}/connection/invitation", timeout=5)
    assert answer.status_code == 401


def test_it_sends_acapy_shaped_webhooks_with_the_secret(agent, webhooks):
    url, received = webhooks
    agent.webhook_url, agent.webhook_secret = url, "hook-secret"
    headers = HEADERS
    created = requests.post(f"{agent.base_url}/out-of-band/create-invitation", json={"my_label": "bench"},
                            headers=headers, timeout=5).json()
    assert set(created) >= {"invi_msg_id", "invitation", "invitation_url", "oob_id"}
    requests.get(created["invitation_url"], timeout=5)
    eventually(lambda: len(received) == 1)

    path, sent_headers, connection = received[0]
    assert path == "/webhooks/acapy/topic/connections/"
    assert sent_headers["x-api-key"] == "hook-secret"
    assert connection["state"] == "active"
    assert connection["invitation_msg_id"] == created["invi_msg_id"]
    listed = requests.get(f"{agent.base_url}/connections", params={"invitation_msg_id": created["invi_msg_id"]},
                          headers=headers, timeout=5).json()
    assert listed["results"][0]["connection_id"] == connection["connection_id"]

    did = requests.post(f"{agent.base_url}/wallet/did/create", json={"method": "key"}, headers=headers, timeout=5)
    assert did.json()["result"]["did"].startswith("did:key:")
    sent = requests.post(f"{agent.base_url}/issue-credential-2.0/send", headers=headers, timeout=5, json={
        "connection_id": connection["connection_id"], "filter": {"ld_proof": {}},
    }).json()
    eventually(lambda: len(received) == 2)
    path, _headers, exchange = received[1]
    assert path == "/webhooks/acapy/topic/issue_credential_v2_0/"
    assert exchange == {**exchange, "cred_ex_id": sent["cred_ex_id"], "state": "done", "role": "issuer"}
    record = requests.get(f"{agent.base_url}/issue-credential-2.0/records/{sent['cred_ex_id']}", headers=headers,
                          timeout=5).json()
    assert record["cred_ex_record"]["state"] == "done"
    # invitation, lookup, send and record, plus the DID (no registration's own, shared by those completed)
    assert agent.summary()["calls_per_registration"] == 5


def test_a_wallet_played_by_the_test_connects_and_accepts_only_when_told(agent, webhooks):
    url, received = webhooks
    agent.webhook_url = url
    created = requests.post(f"{agent.base_url}/out-of-band/create-invitation", json={}, headers=HEADERS,
                            timeout=5).json()
    unseen = requests.get(f"{agent.base_url}/connections", params={"invitation_msg_id": created["invi_msg_id"]},
                          headers=HEADERS, timeout=5).json()
    assert unseen == {"results": []}  # the wallet has not answered yet

    [flow] = agent.connect(created["invi_msg_id"])
    assert received[-1][2] == {**received[-1][2], "connection_id": flow.connection_id, "state": "active"}
    sent = requests.post(f"{agent.base_url}/issue-credential-2.0/send", headers=HEADERS, timeout=5,
                         json={"connection_id": flow.connection_id, "filter": {}}).json()
    time.sleep(0.2)
    record_url = f"{agent.base_url}/issue-credential-2.0/records/{sent['cred_ex_id']}"
    assert requests.get(record_url, headers=HEADERS, timeout=5).json()["cred_ex_record"]["state"] == "offer-sent"

    assert agent.accept() == [flow]
    assert requests.get(record_url, headers=HEADERS, timeout=5).json()["cred_ex_record"]["state"] == "done"
    assert [path for path, _headers, _payload in received] == [
        "/webhooks/acapy/topic/connections/", "/webhooks/acapy/topic/issue_credential_v2_0/",
    ]
    assert agent.latest_flow() is flow


def test_it_refuses_an_offer_before_the_wallet_connected(agent):
    created = requests.post(f"{agent.base_url}/connection/invitation", headers=HEADERS, timeout=5).json()
    offer = requests.post(f"{agent.base_url}/issue/process", headers=HEADERS, timeout=5,
                          json={"connectionId": created["connectionId"], "attributes": {"name": "A"}})
    assert offer.status_code == 400


def test_it_logs_every_request_with_the_key_and_counts_them_by_the_portals_operation(agent):
    requests.get(f"{agent.base_url}/status", timeout=5)  # no key: refused, not logged
    requests.get(f"{agent.base_url}/status", headers=HEADERS, timeout=5)
    requests.post(f"{agent.base_url}/out-of-band/create-invitation", params={"auto_accept": "true"}, json={},
                  headers=HEADERS, timeout=5)
    requests.get(f"{agent.base_url}/connection/someone", headers=HEADERS, timeout=5)
    requests.get(f"{agent.base_url}/nowhere", headers=HEADERS, timeout=5)

    assert agent.received == [
        ("GET", "/status"), ("POST", "/out-of-band/create-invitation"), ("GET", "/connection/someone"),
        ("GET", "/nowhere"),
    ]
    assert [agent.count(name) for name in ("health", "create_invitation", "connection_status")] == [1, 1, 1]
    assert agent.summary()["unattributed_calls"] == 3  # the status, an unknown connection and path


def test_it_forgets_a_credential_record_once(agent):
    created = requests.post(f"{agent.base_url}/out-of-band/create-invitation", json={}, headers=HEADERS,
                            timeout=5).json()
    [flow] = agent.connect(created["invi_msg_id"])
    sent = requests.post(f"{agent.base_url}/issue-credential-2.0/send", headers=HEADERS, timeout=5,
                         json={"connection_id": flow.connection_id, "filter": {}}).json()
    record_url = f"{agent.base_url}/issue-credential-2.0/records/{sent['cred_ex_id']}"

    assert requests.delete(record_url, headers=HEADERS, timeout=5).status_code == 200
    assert requests.delete(record_url, headers=HEADERS, timeout=5).status_code == 404
    assert requests.get(record_url, headers=HEADERS, timeout=5).status_code == 404


def test_it_answers_a_body_that_is_not_a_json_object_with_400(agent):
    answer = requests.post(f"{agent.base_url}/issue/process", data="[1, 2]", headers=HEADERS, timeout=5)
    assert answer.status_code == 400


def test_an_answer_is_not_held_back_by_a_delayed_acknowledgement(agent):
    """Headers and body are two writes: with Nagle's algorithm the body would wait for the client's
    delayed ACK (40 ms on Linux), and "issuer 0 ms" in make bench would be 44 ms per call."""
    with requests.Session() as session:  # kept alive, as the portal's transport is
        session.get(agent.base_url + "/status", headers=HEADERS, timeout=5).raise_for_status()
        started = time.monotonic()
        for _ in range(10):
            session.post(agent.base_url + "/out-of-band/create-invitation", json={"alias": "x"}, headers=HEADERS,
                         timeout=5).raise_for_status()
        elapsed = time.monotonic() - started
    assert elapsed < 10 * 0.040, f"10 calls took {elapsed * 1000:.0f} ms"
