"""The fake issuer agent: ACA-Py's admin API and the agent REST API in one threaded HTTP server on
loopback, with the wallets played (``wallet.py``), webhooks, a latency on every call, and faults
on demand (``faults.py``).

    agent = FakeAgent(api_key="k", webhook_url=portal + "/webhooks/acapy", webhook_secret="s")
    agent.start()                           # the base URL, for ACAPY_ADMIN_URL or AGENT_REST_*_URL
    agent.break_(Fault.HTTP_503, "offer_credential")
    agent.heal()
    agent.stop()

A wallet connects by itself once its invitation URL was fetched (``hold=1`` in the query: it never
accepts offers by itself), or when a test says so (``connect()``, ``accept()``).
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from tests.fakes import routes
from tests.fakes.faults import Delays, Fault, broken_answer
from tests.fakes.ledger import Flow, Ledger
from tests.fakes.shapes import invitation_key
from tests.fakes.wallet import Wallets

logger = logging.getLogger("tests.fakes.agent")


class FakeAgent:
    """The agent's state and settings. ``start()`` returns the base URL; ``stop()`` ends it all."""

    def __init__(
        self,
        *,
        api_key: str = "",
        latency: float = 0.0,
        connect_delay: float = 0.3,
        accept_delay: float = 0.3,
        webhook_url: str = "",
        webhook_secret: str = "",
        webhook_headers: dict[str, str] | None = None,
        keep_alive: bool = True,
        client_timeout: float = 10.0,
    ) -> None:
        """``keep_alive`` False answers one request per connection (HTTP/1.0), so that a REFUSE
        fault really refuses: no kept-alive connection outlives the closed listening socket.
        ``client_timeout`` is the portal's timeout for the agent: TIMEOUT and SLOW faults are
        measured from it."""
        self.api_key = api_key
        self.latency = latency
        self.webhook_url = webhook_url.rstrip("/")
        self.webhook_secret = webhook_secret
        self.webhook_headers = dict(webhook_headers or {})
        self.keep_alive = keep_alive
        self.delays = Delays.for_client_timeout(client_timeout)
        self.fault: Fault | None = None
        self.faulty_operation = ""
        self.ledger = Ledger()
        self.wallets = Wallets(notify=self.webhook, connect_delay=connect_delay, accept_delay=accept_delay)
        self.host = "127.0.0.1"
        self.port = 0
        self._server: _Server | None = None
        self._http = threading.local()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- Life cycle ---------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self.host, self.port = host, port
        self._listen()
        self.wallets.start()
        return self.base_url

    def stop(self) -> None:
        self._close()
        self.wallets.stop()

    def _listen(self) -> None:
        handler = type("Handler", (AgentHandler,), {
            "agent": self, "protocol_version": "HTTP/1.1" if self.keep_alive else "HTTP/1.0",
        })
        self._server = _Server((self.host, self.port), handler)
        self.port = self._server.server_address[1]
        # A short poll interval: stopping (every test, and every REFUSE) waits for one poll.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-agent", daemon=True
        ).start()

    def _close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # --- Faults -------------------------------------------------------------------------------

    def break_(self, fault: Fault, operation: str) -> None:
        """From now on ``operation`` (the portal's, e.g. ``offer_credential``) misbehaves as
        ``fault`` says; REFUSE closes the port for every operation."""
        self.fault, self.faulty_operation = fault, operation
        if fault == Fault.REFUSE:
            self._close()

    def heal(self) -> None:
        """Behave again (and listen again, on the same port, after REFUSE)."""
        if self._server is None:
            self._listen()
        self.fault, self.faulty_operation = None, ""

    def fault_on(self, operation: str) -> Fault | None:
        return self.fault if self.faulty_operation == operation else None

    # --- The wallets, played by a test --------------------------------------------------------

    def connect(self, invitation_id: str = "") -> list[Flow]:
        """The wallet of invitation ``invitation_id`` (of every invitation: "") connects now; it
        accepts offers only when told (``accept``)."""
        flows = [flow for flow in self.ledger.all_flows() if invitation_id in ("", flow.key)]
        for flow in flows:
            flow.hold_offers = True
            self.wallets.connect(flow)
        return flows

    def accept(self, invitation_id: str = "") -> list[Flow]:
        """The wallet accepts the offer of invitation ``invitation_id`` (of every one offered: "")."""
        flows = [flow for flow in self.ledger.all_flows()
                 if flow.cred_ex_id and invitation_id in ("", flow.key)]
        for flow in flows:
            self.wallets.accept(flow)
        return flows

    def latest_flow(self) -> Flow:
        return self.ledger.all_flows()[-1]

    # --- What it tells the portal ----------------------------------------------------------------

    def webhook(self, topic: str, payload: dict[str, Any]) -> None:
        """POST a change to the portal as ACA-Py would; nothing without a webhook URL."""
        if not self.webhook_url:
            return
        headers = {"x-api-key": self.webhook_secret, **self.webhook_headers}
        if not hasattr(self._http, "session"):
            self._http.session = requests.Session()
        try:
            response = self._http.session.post(
                f"{self.webhook_url}/topic/{topic}/", json=payload, headers=headers, timeout=10,
                allow_redirects=False,
            )
            ok = response.status_code < 300
        except requests.RequestException:
            ok = False
        self.ledger.webhook_done(ok)

    # --- What tests and the benchmark read ----------------------------------------------------

    def count(self, operation: str) -> int:
        """The calls to the portal's ``operation`` so far, broken or not."""
        with self.ledger.lock:
            return self.ledger.operations[operation]

    @property
    def received(self) -> list[tuple[str, str]]:
        """Every request that passed the key check, as (method, path), in order."""
        with self.ledger.lock:
            return list(self.ledger.received)

    def summary(self, *, since: float = 0.0) -> dict[str, Any]:
        return self.ledger.summary(since=since)

    def reset_counts(self) -> None:
        self.ledger.reset()

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until the wallets have sent every answer (and webhook) they owe, so that one
        measurement's leftovers do not load the portal during the next. False on timeout."""
        return self.wallets.wait_idle(timeout)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # listen again on the same port after REFUSE

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The portal hung up on a deliberately slow answer: that is the point, not an error.
        if not isinstance(sys.exc_info()[1], (ConnectionError, socket.timeout)):
            super().handle_error(request, client_address)


class AgentHandler(BaseHTTPRequestHandler):
    agent: FakeAgent
    # An answer goes out as two writes (headers, then body). With Nagle's algorithm on, the body waits
    # for the ACK of the headers, which the client delays by 40 ms: every call took 44 ms on loopback,
    # so "issuer 0 ms" in make bench was 44 ms, and the tests waited for it too.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        logger.debug(format, *args)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._answer("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._answer("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._answer("DELETE")

    def _answer(self, method: str) -> None:
        agent = self.agent
        url = urlsplit(self.path)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        parts = tuple(part for part in url.path.split("/") if part)
        body = self._body()
        if method == "GET" and parts == ("invitation",):
            return self._wallet_fetch(query)
        if agent.api_key and self.headers.get("X-API-Key") != agent.api_key:
            return self._send(401, {"message": "Unauthorized"})
        agent.ledger.receive(method, url.path)
        if body is None:
            return self._send(400, {"message": "Request body is not a JSON object"})
        if agent.latency:
            time.sleep(agent.latency)
        found = routes.route(method, parts)
        if found is None:
            agent.ledger.record(f"unknown {method} {url.path[:40]}", None)
            return self._send(404, {"message": "Not found"})
        agent.ledger.count(found.operation)
        fault = agent.fault_on(found.operation)
        if pause := agent.delays.of(fault):
            time.sleep(pause)
        if broken := broken_answer(fault):
            return self._send_text(broken.status, broken.body, broken.content_type)
        status, data = found.handler(agent, routes.Call(parts, query, body, odd_state=fault == Fault.UNKNOWN_STATE))
        self._send(status, data)

    def _wallet_fetch(self, query: dict[str, str]) -> None:
        """A wallet fetched an invitation URL (scanned the QR code): it will connect in a moment."""
        key = invitation_key(query.get("oob") or query.get("c_i") or "")
        if key is None:
            return self._send(400, {"message": "No invitation in this URL"})
        flow = self.agent.ledger.find(key=key)
        if flow is None:
            return self._send(404, {"message": "Unknown invitation"})
        self.agent.wallets.invitation_fetched(flow, hold_offers=query.get("hold") == "1")
        self._send(200, {"ok": True})

    def _body(self) -> dict[str, Any] | None:
        """The JSON object sent ({} for none); None if it is not one."""
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def _send(self, status: int, data: Any) -> None:
        self._send_text(status, json.dumps(data), "application/json")

    def _send_text(self, status: int, body: str, content_type: str) -> None:
        raw = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)
