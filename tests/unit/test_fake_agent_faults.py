"""The fake issuer agent's faults (tests.fakes): one operation of the portal misbehaves, in either
API, until the test heals it. tests/faults drives the portal through them; here the fake alone."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from tests.fakes import Fault, FakeAgent

pytestmark = pytest.mark.timeout(30)

TIMEOUT = 0.5


@pytest.fixture
def agent() -> Iterator[FakeAgent]:
    fake = FakeAgent(keep_alive=False, client_timeout=TIMEOUT)
    fake.start()
    yield fake
    fake.stop()


def invite(agent: FakeAgent) -> dict:
    return requests.post(f"{agent.base_url}/out-of-band/create-invitation", json={}, timeout=5).json()


def connections(agent: FakeAgent, invitation_id: str, **kwargs) -> requests.Response:
    return requests.get(f"{agent.base_url}/connections", params={"invitation_msg_id": invitation_id}, timeout=5,
                        **kwargs)


@pytest.mark.parametrize(("fault", "status", "body"), [
    (Fault.HTTP_500, 500, "<h1>500</h1>"),
    (Fault.HTTP_502, 502, "<h1>502</h1>"),
    (Fault.HTTP_503, 503, "<h1>503</h1>"),
    (Fault.HTTP_401, 401, "<h1>401</h1>"),
    (Fault.BAD_JSON, 200, '{"state": "active", '),
    (Fault.WRONG_SHAPE, 200, '[{"unexpected": true}]'),
])
def test_it_breaks_the_answers_of_one_operation_until_healed(agent, fault, status, body):
    invitation_id = invite(agent)["invi_msg_id"]
    agent.break_(fault, "connection_status")

    broken = connections(agent, invitation_id)
    rest_broken = requests.get(f"{agent.base_url}/connection/anyone", timeout=5)

    assert (broken.status_code, rest_broken.status_code) == (status, status)
    assert body in broken.text
    assert requests.get(f"{agent.base_url}/status", timeout=5).json()["version"]  # the others behave
    agent.heal()
    assert connections(agent, invitation_id).json() == {"results": []}
    assert agent.count("connection_status") == 3


def test_an_unknown_state_shows_the_connection_and_the_credential_in_a_state_nobody_knows(agent):
    created = requests.post(f"{agent.base_url}/connection/invitation", timeout=5).json()
    acapy = invite(agent)
    agent.break_(Fault.UNKNOWN_STATE, "connection_status")

    [listed] = connections(agent, acapy["invi_msg_id"]).json()["results"]
    assert listed["state"] == "teleported"
    assert requests.get(f"{agent.base_url}/connection/{created['connectionId']}", timeout=5).json() == "teleported"
    agent.connect()
    agent.break_(Fault.UNKNOWN_STATE, "credential_status")
    offer = requests.post(f"{agent.base_url}/issue/process", timeout=5,
                          json={"connectionId": created["connectionId"], "attributes": {}}).json()
    state = requests.get(f"{agent.base_url}/issue/process/{offer['processId']}/state", timeout=5).json()
    assert state == "TELEPORTED"


def test_a_refusal_closes_the_port_and_healing_opens_the_same_one(agent):
    port = agent.port
    agent.break_(Fault.REFUSE, "create_invitation")

    with pytest.raises(requests.ConnectionError):
        requests.get(f"{agent.base_url}/status", timeout=5)
    agent.heal()
    assert agent.port == port
    assert requests.get(f"{agent.base_url}/status", timeout=5).status_code == 200


def test_a_slow_answer_comes_late_but_in_time(agent):
    agent.break_(Fault.SLOW, "create_invitation")
    started = time.monotonic()

    assert "invi_msg_id" in requests.post(f"{agent.base_url}/out-of-band/create-invitation", json={},
                                          timeout=TIMEOUT).json()
    assert time.monotonic() - started >= TIMEOUT * 0.4


def test_a_timeout_answer_comes_after_the_client_gave_up(agent):
    agent.break_(Fault.TIMEOUT, "create_invitation")

    with pytest.raises(requests.Timeout):
        requests.post(f"{agent.base_url}/out-of-band/create-invitation", json={}, timeout=TIMEOUT)


def test_it_answers_one_request_per_connection_without_keep_alive(agent):
    answer = requests.get(f"{agent.base_url}/status", timeout=5)
    assert answer.raw.version == 10  # HTTP/1.0
