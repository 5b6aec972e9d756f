"""ACA-Py's events over its admin websocket: the stream client, the loop that applies them, and the
command, against a stand-in for the agent's /ws (the real agent: tests/integration/test_acapy_events.py)."""

from __future__ import annotations

import io
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from websockets.sync.server import ServerConnection, serve

from onboarding import agent_events, metrics, operations
from onboarding.issuers import acapy_stream
from onboarding.issuers.acapy_stream import MAX_EVENT_BYTES, AcaPyEventStream, AgentEvent, stream_url
from onboarding.issuers.base import IssuerRejected, IssuerUnavailable
from onboarding.models import Registration
from tests.unit.test_acapy_webhooks import connection_event, credential_event, make_registration

KEY = "admin-key-0123"
PING = "<a websocket ping>"
State = Registration.State


class StandInAgent:
    """The agent's /ws: the settings message first (authenticated only with KEY), then what the
    test puts in ``sent``; ``None`` there closes the connection."""

    def __init__(self, *, refuse_handshake: int | None = None):
        self.sent: queue.Queue[str | list[str] | None] = queue.Queue()
        self.pongs: list[bool] = []
        self.keys: list[str] = []
        self.paths: list[str] = []
        self.connections = 0
        self.refuse_handshake = refuse_handshake
        self.stopped = False
        self.server = serve(self._handle, "127.0.0.1", 0, process_request=self._check)
        self.url = f"http://127.0.0.1:{self.server.socket.getsockname()[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _check(self, _connection: ServerConnection, request):
        self.paths.append(request.path)
        if self.refuse_handshake:
            return _connection.respond(self.refuse_handshake, "refused\n")
        return None

    def _handle(self, websocket: ServerConnection) -> None:
        self.connections += 1
        key = websocket.request.headers.get("x-api-key", "")
        self.keys.append(key)
        websocket.send(json.dumps({"topic": "settings", "payload": {"authenticated": key == KEY, "label": "issuer"}}))
        while not self.stopped:
            try:
                message = self.sent.get(timeout=0.05)
            except queue.Empty:
                continue
            if message is None:
                return
            if message == PING:
                self.pongs.append(websocket.ping().wait(2.0))
                continue
            websocket.send(message)  # a list is sent as one message in fragments

    def event(self, topic: str, payload: dict) -> None:
        self.sent.put(json.dumps({"topic": topic, "payload": payload}))

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self.sent.put(None)
        self.server.shutdown()


@pytest.fixture
def agent() -> Iterator[StandInAgent]:
    stand_in = StandInAgent()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def stream_settings(settings, agent):
    settings.REGISTERFT_ISSUERS = ("acapy",)
    settings.ACAPY_ADMIN_URL = agent.url
    settings.ACAPY_ADMIN_API_KEY = KEY
    settings.ACAPY_WEBHOOK_SECRET = "hook-secret"
    settings.ACAPY_ISSUER_DID = ""
    return settings


# --- The stream ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("admin", "expected"), [
    ("http://agent:8031", "ws://agent:8031/ws"),
    ("https://agent.example/admin/", "wss://agent.example/admin/ws"),
    ("http://[::1]:8031", "ws://[::1]:8031/ws"),
])
def test_the_stream_is_the_websocket_beside_the_admin_api(admin, expected):
    assert stream_url(admin) == expected


@pytest.mark.parametrize("admin", ["ftp://agent:21", "agent:8031", "http://"])
def test_an_admin_address_that_is_not_http_is_refused_with_a_message(admin):
    with pytest.raises(IssuerRejected, match="ACAPY_ADMIN_URL"):
        stream_url(admin)


def test_the_stream_sends_the_admin_key_and_gives_the_events_of_records_only(agent):
    agent.sent.put(json.dumps({"topic": "ping", "authenticated": True}))
    agent.sent.put("not json at all")
    agent.sent.put(json.dumps(["a", "list"]))
    agent.event("connections", {"state": "active"})
    agent.sent.put(json.dumps({"topic": "out_of_band", "payload": "not an object"}))
    agent.event("issue_credential_v2_0", {"state": "done"})
    with AcaPyEventStream(agent.url, KEY) as stream:
        seen = [stream.next_event(2.0) for _ in range(6)]
    assert agent.keys == [KEY] and agent.paths == ["/ws"]
    assert [event for event in seen if event is not None] == [
        AgentEvent("connections", {"state": "active"}), AgentEvent("issue_credential_v2_0", {"state": "done"}),
    ]


def test_a_quiet_stream_gives_none_when_the_wait_is_over(agent):
    with AcaPyEventStream(agent.url, KEY) as stream:
        started = time.monotonic()
        assert stream.next_event(0.2) is None
        assert time.monotonic() - started < 1.5


def test_a_key_the_agent_does_not_accept_is_refused_at_once(agent):
    with pytest.raises(IssuerRejected, match="did not accept ACAPY_ADMIN_API_KEY"):
        AcaPyEventStream(agent.url, "wrong-key").__enter__()


def test_a_refused_handshake_is_the_key_refused():
    stand_in = StandInAgent(refuse_handshake=401)
    try:
        with pytest.raises(IssuerRejected, match="refused the event stream"):
            AcaPyEventStream(stand_in.url, KEY).__enter__()
    finally:
        stand_in.stop()


def test_an_agent_that_does_not_listen_is_unavailable():
    stand_in = StandInAgent()
    stand_in.stop()
    with pytest.raises(IssuerUnavailable, match="unreachable"):
        AcaPyEventStream(stand_in.url, KEY, open_timeout=2.0).__enter__()


def test_a_stream_the_agent_closes_is_unavailable(agent):
    with AcaPyEventStream(agent.url, KEY) as stream:
        agent.sent.put(None)
        with pytest.raises(IssuerUnavailable, match="closed the event stream"):
            stream.next_event(2.0)


def test_a_message_in_fragments_is_one_event(agent):
    agent.sent.put(['{"topic": "connections", ', '"payload": {"state": ', '"active"}}'])
    with AcaPyEventStream(agent.url, KEY) as stream:
        assert stream.next_event(2.0) == AgentEvent("connections", {"state": "active"})


def test_the_agents_websocket_pings_are_answered(agent):
    agent.sent.put(PING)
    agent.event("connections", {"state": "active"})
    with AcaPyEventStream(agent.url, KEY) as stream:
        assert stream.next_event(3.0) == AgentEvent("connections", {"state": "active"})
    assert agent.pongs == [True]


def test_a_message_far_larger_than_an_event_breaks_the_stream(agent):
    with AcaPyEventStream(agent.url, KEY) as stream:
        agent.event("connections", {"state": "active", "padding": "x" * MAX_EVENT_BYTES})
        with pytest.raises(IssuerUnavailable, match="broke: PayloadTooBig"):
            stream.next_event(2.0)


def test_a_stream_silent_for_too_long_is_unavailable(agent, monkeypatch):
    monkeypatch.setattr(acapy_stream, "SILENT_SECONDS", 0.5)
    with AcaPyEventStream(agent.url, KEY) as stream:
        assert stream.next_event(0.3) is None
        with pytest.raises(IssuerUnavailable, match="silent"):
            for _ in range(5):
                stream.next_event(0.3)


# --- The loop that applies them ------------------------------------------------------------------


def following(stop: threading.Event, errors: list[BaseException]) -> Callable[[], None]:
    def run() -> None:
        try:
            agent_events.follow_acapy_events(stop, idle_seconds=0.1)
        except BaseException as err:  # noqa: BLE001 - handed to the test thread
            errors.append(err)
        finally:
            connection.close()  # this thread's own database connection

    return run


def until(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.django_db(transaction=True)
def test_streamed_events_move_a_registration_as_webhooks_do(stream_settings, agent, caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="onboarding.webhooks")
    monkeypatch.setattr(agent_events, "RETRY_SECONDS", (0.1,))
    registration = make_registration()
    stop, errors = threading.Event(), []
    thread = threading.Thread(target=following(stop, errors))
    thread.start()
    try:
        agent.event("out_of_band", {"state": "await-response"})
        agent.event("connections", connection_event("request", "request-received"))
        agent.event("connections", connection_event("active", "completed"))
        assert until(lambda: Registration.objects.get(pk=registration.pk).state == State.CONNECTED)
        # The agent drops the connection: the loop opens it again and goes on.
        agent.sent.put(None)
        assert until(lambda: agent.connections == 2)
        Registration.objects.filter(pk=registration.pk).update(process_id="cx-1", state=State.OFFERED)
        agent.event("issue_credential_v2_0", credential_event("done"))
        assert until(lambda: Registration.objects.get(pk=registration.pk).state == State.ISSUED)
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive() and errors == []
    assert Registration.objects.get(pk=registration.pk).connection_id == "conn-1"
    lines = [record.getMessage() for record in caplog.records]
    assert any(line.startswith("event stream open: ws://127.0.0.1:") for line in lines)
    assert any("closed the event stream" in line and "opening it again" in line for line in lines)
    # The steps on the way leave no line; the two that moved the registration leave one each,
    # with ids and states only.
    moved = [line for line in lines if line.startswith("event topic=")]
    assert moved == [f"event topic=connections state=active registration={registration.pk}",
                     f"event topic=issue_credential_v2_0 state=done registration={registration.pk}"]


@pytest.mark.django_db(transaction=True)
def test_events_the_agent_sends_close_together_are_read_together(stream_settings, agent, monkeypatch):
    reads, applied = [], []
    original = AcaPyEventStream._read

    def counted(self: AcaPyEventStream, timeout: float) -> bool:
        got = original(self, timeout)
        reads.append(got)
        return got

    monkeypatch.setattr(AcaPyEventStream, "_read", counted)
    monkeypatch.setattr(agent_events, "_apply_streamed", lambda _topic, payload: applied.append(payload["n"]))
    stop, errors = threading.Event(), []
    thread = threading.Thread(target=following(stop, errors))
    thread.start()
    try:
        agent.event("out_of_band", {"state": "await-response", "n": -1})
        assert until(lambda: applied == [-1])
        reads.clear()
        started = time.monotonic()
        for n in range(8):
            agent.event("out_of_band", {"state": "await-response", "n": n})
            time.sleep(0.01)
        sent_within = time.monotonic() - started
        assert until(lambda: len(applied) == 9)
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive() and errors == []
    assert applied == [-1, *range(8)]
    # One read at the first event, then one per gathering pause at most (each event read on its
    # own would be eight).
    assert reads.count(True) <= 2 + sent_within / agent_events.GATHER_SECONDS < 8


@pytest.mark.django_db(transaction=True)
def test_the_loop_stops_for_a_key_the_agent_refuses(stream_settings, agent):
    stream_settings.ACAPY_ADMIN_API_KEY = "wrong-key"
    with pytest.raises(IssuerRejected):
        agent_events.follow_acapy_events(threading.Event(), idle_seconds=0.1)


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_agent_is_tried_again_until_stopped(stream_settings, agent, caplog, monkeypatch):
    agent.stop()
    monkeypatch.setattr(agent_events, "RETRY_SECONDS", (0.05, 0.1))
    stop, errors = threading.Event(), []
    thread = threading.Thread(target=following(stop, errors))
    thread.start()
    assert until(lambda: sum("opening it again" in r.getMessage() for r in caplog.records) >= 3)
    stop.set()
    thread.join(5)
    assert not thread.is_alive() and errors == []


# --- The command ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_command_follows_the_stream_for_the_seconds_asked(stream_settings, agent):
    registration = make_registration()
    agent.event("connections", connection_event("active", "completed"))
    started = time.monotonic()
    call_command("acapy_events", seconds=1.0, stdout=io.StringIO())
    assert 0.9 <= time.monotonic() - started < 5
    assert Registration.objects.get(pk=registration.pk).state == State.CONNECTED


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_with_a_message_when_the_key_is_refused(stream_settings, agent):
    stream_settings.ACAPY_ADMIN_API_KEY = "wrong-key"
    with pytest.raises(CommandError, match="did not accept ACAPY_ADMIN_API_KEY"):
        call_command("acapy_events", seconds=5.0, stdout=io.StringIO())


def test_the_command_needs_the_acapy_backend(settings):
    settings.REGISTERFT_ISSUERS = ("demo",)
    with pytest.raises(CommandError, match="no ACA-Py backend"):
        call_command("acapy_events", seconds=1.0, stdout=io.StringIO())


@pytest.mark.django_db(transaction=True)
def test_metrics_say_whether_the_stream_is_open_and_count_its_breaks(stream_settings, agent, monkeypatch):
    stream_settings.REGISTERFT_METRICS = True
    monkeypatch.setattr(agent_events, "RETRY_SECONDS", (0.1,))

    def sample(name: str) -> float:
        return metrics.PORTAL.get_sample_value(name) or 0.0

    breaks = sample("registerft_acapy_event_stream_breaks_total")
    stop, errors = threading.Event(), []
    thread = threading.Thread(target=following(stop, errors))
    thread.start()
    try:
        assert until(lambda: sample("registerft_acapy_event_stream_open") == 1.0)
        agent.sent.put(None)  # the agent drops the connection; the loop opens it again
        assert until(lambda: agent.connections == 2)
        assert sample("registerft_acapy_event_stream_breaks_total") == breaks + 1
        assert until(lambda: sample("registerft_acapy_event_stream_open") == 1.0)
    finally:
        stop.set()
        thread.join(5)
    assert errors == []
    assert sample("registerft_acapy_event_stream_open") == 0.0
    assert sample("registerft_acapy_event_stream_breaks_total") == breaks + 1  # stopping is no break


# --- The issuer's status ---------------------------------------------------------------------------


def test_the_status_says_whether_the_agents_websocket_accepts_the_key(stream_settings, agent):
    assert operations.event_stream_status("acapy") == "accepted"
    stream_settings.ACAPY_ADMIN_API_KEY = "wrong-key"
    assert "did not accept ACAPY_ADMIN_API_KEY" in operations.event_stream_status("acapy")
    agent.stop()
    assert "unreachable" in operations.event_stream_status("acapy")
    assert operations.event_stream_status("demo") == ""


def test_gunicorns_workers_do_not_load_the_websocket_client():
    # Each worker must stay under 80 MB (make bench); only acapy_events reads the stream.
    code = "import sys, registerft.wsgi; print('websockets' in sys.modules)"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "registerft.settings", "DJANGO_DEBUG": "1"}
    loaded = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[2])
    assert loaded.stdout.strip() == "False"


def test_the_command_stops_cleanly_on_sigterm_as_systemd_stops_it(agent, tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "registerft.settings", "DJANGO_DEBUG": "1",
           "REGISTERFT_VAR_DIR": str(tmp_path), "REGISTERFT_ISSUERS": "acapy", "ACAPY_ADMIN_URL": agent.url,
           "ACAPY_ADMIN_API_KEY": KEY, "ACAPY_WEBHOOK_SECRET": "hook-secret"}
    command = subprocess.Popen([sys.executable, "manage.py", "acapy_events"], cwd=Path(__file__).resolve().parents[2],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert until(lambda: agent.connections == 1, seconds=20), "the command did not open the stream"
        command.send_signal(signal.SIGTERM)
        output, _ = command.communicate(timeout=10)
    finally:
        command.kill()
    assert command.returncode == 0, output
    assert "event stream open: ws://127.0.0.1:" in output and "Traceback" not in output
