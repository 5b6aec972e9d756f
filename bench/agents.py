"""The event scenario's agents (bench/event.py): one real ACA-Py issuer, a few holder agents as the
visitors' wallets, and the relay in the benchmark's process that reads the issuer's events and
notes when each connection and credential is done.

The issuer's events reach the portal as they do in production, in one of two ways
(``BENCH_EVENT_DELIVERY``): ``stream`` (the default), where the portal's ``manage.py acapy_events``
reads them from the agent's websocket and the relay reads the same websocket; or ``webhooks``, where
the agent posts them to the relay, which passes each one on to the portal in portal rounds."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from websockets.exceptions import WebSocketException
from websockets.sync.client import connect

from bench.browser import Browser
from bench.portal import free_port, process_cpu_seconds
from onboarding.issuers.acapy_stream import CONTROL_TOPICS, stream_url
from onboarding.issuers.base import json_object
from tests.integration.agents import Agent, ensure_acapy

DIDEXCHANGE = "https://didcomm.org/didexchange/1.1"
HOLDER_FLAGS = ["--auto-accept-invites", "--auto-accept-requests", "--auto-store-credential",
                "--auto-respond-credential-offer"]
WALLETS = 3
FLOW_TIMEOUT = 120.0


# --- The relay for the issuer's webhooks -----------------------------------------------------------


class Relay:
    """Receives the issuer's events, notes when connections and credentials are done and, with
    webhooks, passes each one on to the portal while ``forward_to`` is set."""

    def __init__(self, secret: str, *, stream: bool):
        self.secret = secret
        self.stream = stream
        self.closing = False
        self.port = free_port()
        self.forward_to = ""
        self.connected: dict[str, tuple[float, str]] = {}  # invitation id -> (time, connection id)
        self.issued: dict[str, float] = {}  # cred_ex_id -> time
        self.issued_on: dict[str, float] = {}  # connection id -> time
        self.issued_count = 0  # credentials the issuer has issued so far (its age)
        self.received = 0
        self.topics: Counter[str] = Counter()  # "topic state" -> webhooks received
        self.errors: list[str] = []  # what the agent said of each connection or exchange it gave up
        self.changed = threading.Condition()
        self._local = threading.local()
        relay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = relay.receive(self.path, body, self.headers.get("x-api-key", ""))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="relay", daemon=True)

    @property
    def webhook_url(self) -> str:
        """The issuer's --webhook-url: none when its events are read from its websocket."""
        return "" if self.stream else f"http://127.0.0.1:{self.port}#{self.secret}"

    def start(self) -> None:
        self.thread.start()

    def follow(self, issuer: Agent) -> None:
        """Read the issuer's events from its websocket, as the portal's acapy_events does."""
        self._read_stream(issuer, self.note, name="relay-stream")

    @contextmanager
    def client_stream(self, issuer: Agent) -> Iterator[None]:
        """With the websocket, a second reader of the issuer's events for a bare round: the flows'
        own, beside the relay's. In portal rounds the portal reads its own (manage.py acapy_events)
        beside the relay's, and the agent sends each event to every reader; so the agent sends as
        many in both kinds of round. Its messages are parsed and dropped (the bare flows wait on the
        relay's notes); its CPU is the benchmark's."""
        if not self.stream:
            yield
            return
        socket = self._read_stream(issuer, lambda _topic, _payload: None, name="bare-client-stream")
        try:
            yield
        finally:
            socket.close()

    def _read_stream(self, issuer: Agent, handle: Callable[[str, dict[str, Any]], None], *, name: str) -> Any:
        """Open the issuer's websocket and hand each event to ``handle`` in a thread of its own;
        the socket, once open (closing it ends the thread)."""
        url = stream_url(issuer.admin_url)
        opened: list[Any] = []
        ready = threading.Event()

        def read() -> None:
            try:
                with connect(url, additional_headers={"x-api-key": issuer.api_key}, compression=None,
                             max_size=None) as socket:
                    opened.append(socket)
                    ready.set()
                    for text in socket:
                        message = json_object(text)
                        if message is not None and message.get("topic") not in CONTROL_TOPICS:
                            handle(message.get("topic", ""), message.get("payload") or {})
            except (OSError, WebSocketException) as err:
                if not self.closing:
                    self.errors.append(f"the {name}: {err!r}")

        threading.Thread(target=read, name=name, daemon=True).start()
        if not ready.wait(10):
            raise RuntimeError(f"the issuer's event websocket did not open within 10 s ({name})")
        return opened[0]

    def stop(self) -> None:
        """Before the agents stop: their closing the websocket is then no error."""
        self.closing = True
        self.server.shutdown()

    def receive(self, path: str, body: bytes, key: str) -> int:
        topic = path.strip("/").split("/")[-1]
        payload = json_object(body) or {}
        self.note(topic, payload)
        target = self.forward_to
        if target:
            if getattr(self._local, "target", None) != target:
                self._local.target, self._local.http = target, Browser(target)
            answer = self._local.http.request("POST", f"/webhooks/acapy{path}", body=body, headers={
                "x-api-key": key, "Content-Type": "application/json", "X-Forwarded-Proto": "https"})
            return answer.status_code
        return 200

    def note(self, topic: str, payload: dict[str, Any]) -> None:
        now = time.monotonic()
        with self.changed:
            self.received += 1
            self.topics[f"{topic} {payload.get('state', '')}"] += 1
            if payload.get("state") in ("abandoned", "error"):
                self.errors.append(f"{topic}: {str(payload.get('error_msg'))[:200]}")
            if topic == "connections" and payload.get("state") in ("active", "completed"):
                self.connected.setdefault(payload.get("invitation_msg_id", ""), (now, payload.get("connection_id", "")))
            elif topic == "issue_credential_v2_0" and payload.get("state") == "done" and payload.get("role") == "issuer":
                self.issued.setdefault(payload.get("cred_ex_id", ""), now)
                self.issued_count += 1
                self.issued_on.setdefault(payload.get("connection_id", ""), now)
            self.changed.notify_all()

    def wait(self, found: Any, what: str) -> Any:
        deadline = time.monotonic() + FLOW_TIMEOUT
        with self.changed:
            while (value := found()) is None:
                if not self.changed.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(f"no webhook for {what} within {FLOW_TIMEOUT:.0f} s")
            return value


# --- The agents ----------------------------------------------------------------------------------


class Agents:
    def __init__(self, workdir: Path, relay: Relay):
        executable = ensure_acapy()
        workdir.mkdir(parents=True, exist_ok=True)
        self.issuer = Agent(executable, "issuer", workdir, webhook_url=relay.webhook_url)
        self.relay = relay
        self.holders = [Agent(executable, f"wallet{n}", workdir, extra_args=HOLDER_FLAGS) for n in range(WALLETS)]
        self.did = ""

    @property
    def all(self) -> list[Agent]:
        return [self.issuer, *self.holders]

    def start(self) -> None:
        with ThreadPoolExecutor(len(self.all)) as pool:
            list(pool.map(Agent.start, self.all))
        if self.relay.stream:
            self.relay.follow(self.issuer)
        self.did = self.issuer.post("/wallet/did/create", {"method": "key", "options": {"key_type": "ed25519"}})[
            "result"]["did"]

    def stop(self) -> None:
        for agent in self.all:
            agent.stop()

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.issuer.process.pid) if self.issuer.process else 0.0

    def wallets_cpu_seconds(self) -> float:
        return process_cpu_seconds(*(holder.process.pid for holder in self.holders if holder.process))

    def loop_seconds(self) -> tuple[float, float]:
        """How long the issuer's event loop has run, and waited for a core, so far."""
        return main_thread_schedstat(self.issuer.process.pid) if self.issuer.process else (0.0, 0.0)

    def offer_body(self, connection_id: str) -> dict[str, Any]:
        """What the portal sends (onboarding/issuers/acapy.py), with the default settings."""
        credential = {
            "@context": ["https://www.w3.org/2018/credentials/v1", {"@vocab": "https://registerft.example/vocab#"}],
            "id": f"urn:uuid:{uuid.uuid4()}",
            "type": ["VerifiableCredential", "RegisterftCredential"],
            "issuer": self.did,
            "issuanceDate": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "credentialSubject": {"first_name": "Bench", "last_name": "Visitor", "institution": "Loopback"},
        }
        return {"connection_id": connection_id, "auto_remove": False,
                "filter": {"ld_proof": {"credential": credential, "options": {"proofType": "Ed25519Signature2020"}}}}


def main_thread_schedstat(pid: int) -> tuple[float, float]:
    """Seconds the process's main thread has run, and has been ready to run without a core (its
    schedstat). In ACA-Py that thread runs the event loop, which does the flows' work."""
    try:
        ran, waited = Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()[:2]
        return int(ran) / 1e9, int(waited) / 1e9
    except (OSError, ValueError):
        return 0.0, 0.0
