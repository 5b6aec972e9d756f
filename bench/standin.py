"""A stand-in issuer agent for the benchmark: ACA-Py's admin API and the agent REST API in one
threaded HTTP server, with a configurable latency on every call.

It also plays the wallet's part, so that a benchmark needs no phone:

- a connection becomes active a moment after its invitation URL is fetched (as a wallet that
  scanned the QR code would fetch it); fetching it with ``hold=1`` in the query marks the wallet as
  one that never answers credential offers (a visitor left waiting on the loading page);
- a credential offer is accepted a moment after it was sent;
- with a webhook URL, each change is POSTed to the portal as ACA-Py would
  (``{webhook_url}/topic/{topic}/`` with the header ``x-api-key``).

Every admin call is counted, and attributed to the registration (invitation) it concerns, so that
the benchmark can say how many calls one registration cost the issuer.
"""

from __future__ import annotations

import base64
import heapq
import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

logger = logging.getLogger("bench.standin")

# Operations that ask for a state (rather than create something): the ones the portal must spare.
STATE_CHECKS = frozenset(
    {"acapy.connections", "acapy.connection", "acapy.record", "acapy.records", "rest.connection", "rest.process_state"}
)


@dataclass
class Flow:
    """One invitation at the stand-in, and everything that followed from it."""

    key: str
    created: float
    connection_id: str
    calls: list[tuple[float, str]] = field(default_factory=list)
    fetched: bool = False
    connected: bool = False
    hold_offers: bool = False
    cred_ex_id: str = ""
    credential_done: bool = False


class StandIn:
    """The server and the agent's state. ``start()`` returns the base URL; ``stop()`` ends it."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        connect_delay: float = 0.3,
        accept_delay: float = 0.3,
        webhook_url: str = "",
        webhook_secret: str = "",
        webhook_headers: dict[str, str] | None = None,
        api_key: str = "",
    ):
        self.latency = latency
        self.connect_delay = connect_delay
        self.accept_delay = accept_delay
        self.webhook_url = webhook_url.rstrip("/")
        self.webhook_secret = webhook_secret
        self.webhook_headers = dict(webhook_headers or {})
        self.api_key = api_key
        self.lock = threading.Lock()
        self.flows: dict[str, Flow] = {}
        self.by_connection: dict[str, Flow] = {}
        self.by_exchange: dict[str, Flow] = {}
        self.unattributed: list[tuple[float, str]] = []
        self.webhooks_sent = 0
        self.webhooks_failed = 0
        self.base_url = ""
        self._server: ThreadingHTTPServer | None = None
        # The wallet's answers wait on one timer thread, then go out from a small pool, so that a
        # thousand visitors scanning at once do not need a thousand threads.
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="standin-wallet")
        self._due: list[tuple[float, int, Callable[[Flow], None], Flow]] = []
        self._due_changed = threading.Condition()
        self._stopped = False
        self._running = 0
        self._sequence = itertools.count()
        self._http = threading.local()

    # --- Life cycle ---------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        standin = self

        class Handler(StandInHandler):
            pass

        Handler.standin = standin
        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://{host}:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, name="standin", daemon=True).start()
        threading.Thread(target=self._run_timers, name="standin-timers", daemon=True).start()
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._due_changed:
            self._stopped = True
            self._due_changed.notify_all()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def reset_counts(self) -> None:
        with self.lock:
            self.flows.clear()
            self.by_connection.clear()
            self.by_exchange.clear()
            self.unattributed.clear()
            self.webhooks_sent = self.webhooks_failed = 0

    # --- Counting ------------------------------------------------------------------------------

    def record(self, operation: str, flow: Flow | None) -> None:
        with self.lock:
            (flow.calls if flow else self.unattributed).append((time.monotonic(), operation))

    def new_flow(self) -> Flow:
        flow = Flow(key=uuid.uuid4().hex, created=time.monotonic(), connection_id=str(uuid.uuid4()))
        with self.lock:
            self.flows[flow.key] = flow
            self.by_connection[flow.connection_id] = flow
        return flow

    def flow(self, *, key: str = "", connection_id: str = "", cred_ex_id: str = "") -> Flow | None:
        with self.lock:
            if key:
                return self.flows.get(key)
            if connection_id:
                return self.by_connection.get(connection_id)
            return self.by_exchange.get(cred_ex_id)

    def summary(self, *, since: float = 0.0) -> dict[str, Any]:
        """Calls per completed registration, and the shortest gap between two state checks of one
        registration, over the registrations started since ``since`` (``time.monotonic()``)."""
        with self.lock:
            recent = [flow for flow in self.flows.values() if flow.created >= since]
            flows = [flow for flow in recent if flow.credential_done]
            extra = sum(1 for at, _operation in self.unattributed if at >= since)
            per_flow = [len(flow.calls) for flow in flows]
            gaps = []
            for flow in recent:
                checks = sorted(at for at, operation in flow.calls if operation in STATE_CHECKS)
                gaps.extend(later - earlier for earlier, later in zip(checks, checks[1:]))
            operations: dict[str, int] = {}
            for flow in flows:
                for _at, operation in flow.calls:
                    operations[operation] = operations.get(operation, 0) + 1
            for at, operation in self.unattributed:
                if at < since:
                    continue
                operations[operation] = operations.get(operation, 0) + 1
        completed = len(flows)
        return {
            "completed": completed,
            # Calls not tied to one registration (an issuer DID, a status) are shared out.
            "calls_per_registration": (sum(per_flow) + extra) / completed if completed else None,
            "max_calls_one_registration": max(per_flow, default=0),
            "unattributed_calls": extra,
            "min_check_gap_s": min(gaps) if gaps else None,
            "operations": operations,
            "webhooks_sent": self.webhooks_sent,  # since the start
            "webhooks_failed": self.webhooks_failed,
        }

    # --- The wallet's part ----------------------------------------------------------------------

    def invitation_fetched(self, flow: Flow, *, hold_offers: bool) -> None:
        flow.hold_offers = flow.hold_offers or hold_offers
        if flow.fetched:
            return
        flow.fetched = True
        self._later(self.connect_delay, self._connect, flow)

    def _connect(self, flow: Flow) -> None:
        flow.connected = True
        self.webhook("connections", connection_record(flow, state="active"))

    def offer_sent(self, flow: Flow) -> None:
        if not flow.hold_offers:
            self._later(self.accept_delay, self._accept, flow)

    def _accept(self, flow: Flow) -> None:
        flow.credential_done = True
        self.webhook("issue_credential_v2_0", exchange_record(flow))

    def _later(self, delay: float, action: Callable[[Flow], None], flow: Flow) -> None:
        with self._due_changed:
            heapq.heappush(self._due, (time.monotonic() + delay, next(self._sequence), action, flow))
            self._due_changed.notify_all()

    def _run_timers(self) -> None:
        while True:
            with self._due_changed:
                while not self._stopped and (not self._due or self._due[0][0] > time.monotonic()):
                    self._due_changed.wait(self._due[0][0] - time.monotonic() if self._due else None)
                if self._stopped:
                    return
                _at, _sequence, action, flow = heapq.heappop(self._due)
                self._running += 1
            try:
                self._pool.submit(self._run_one, action, flow)
            except RuntimeError:  # the pool was shut down meanwhile
                return

    def _run_one(self, action: Callable[[Flow], None], flow: Flow) -> None:
        try:
            action(flow)
        finally:
            with self._due_changed:
                self._running -= 1
                self._due_changed.notify_all()

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until every answer the wallets still owe (and its webhook) has gone out, so that
        one measurement's leftovers do not load the portal during the next. False on timeout."""
        deadline = time.monotonic() + timeout
        with self._due_changed:
            while self._due or self._running:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._due_changed.wait(min(remaining, 0.5))
        return True

    def webhook(self, topic: str, payload: dict[str, Any]) -> None:
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
        with self.lock:
            if ok:
                self.webhooks_sent += 1
            else:
                self.webhooks_failed += 1


# --- Shapes of the answers ------------------------------------------------------------------------


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def invitation_message(flow: Flow, label: str) -> dict[str, Any]:
    return {
        "@type": "https://didcomm.org/out-of-band/1.1/invitation",
        "@id": flow.key,
        "label": label,
        "handshake_protocols": ["https://didcomm.org/didexchange/1.1"],
        "services": [f"did:peer:2.standin{flow.key[:8]}"],
    }


def connection_record(flow: Flow, *, state: str | None = None) -> dict[str, Any]:
    state = state or ("active" if flow.connected else "invitation")
    return {
        "connection_id": flow.connection_id,
        "invitation_msg_id": flow.key,
        "state": state,
        "rfc23_state": "completed" if state == "active" else "invitation-sent",
        "their_label": "bench wallet",
        "connection_protocol": "didexchange/1.1",
        "their_role": "invitee",
    }


def exchange_record(flow: Flow) -> dict[str, Any]:
    return {
        "cred_ex_id": flow.cred_ex_id,
        "connection_id": flow.connection_id,
        "role": "issuer",
        "state": "done" if flow.credential_done else "offer-sent",
        "thread_id": flow.cred_ex_id,
    }


class StandInHandler(BaseHTTPRequestHandler):
    standin: StandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        logger.debug(format, *args)

    # --- Plumbing ---------------------------------------------------------------------------------

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return None

    def _send(self, status: int, data: Any) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorised(self) -> bool:
        key = self.standin.api_key
        return not key or self.headers.get("X-API-Key") == key

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        parts = [part for part in url.path.split("/") if part]
        if method == "GET" and parts == ["invitation"]:
            return self._wallet_fetch(query)
        if not self._authorised():
            return self._send(401, {"message": "Unauthorized"})
        body = self._body() if method == "POST" else {}
        if body is None:
            return self._send(400, {"message": "Request body is not JSON"})
        if self.standin.latency:
            time.sleep(self.standin.latency)
        handler = ROUTES.get((method, tuple(p if i == 0 or p in FIXED else "*" for i, p in enumerate(parts))))
        if handler is None:
            self.standin.record(f"unknown {method} {url.path[:40]}", None)
            return self._send(404, {"message": "Not found"})
        status, data = handler(self, parts, query, body)
        self._send(status, data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._route("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")

    def _wallet_fetch(self, query: dict[str, str]) -> None:
        """The wallet fetched an invitation URL: it will connect in a moment."""
        encoded = query.get("oob") or query.get("c_i") or ""
        try:
            key = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))["@id"]
        except (ValueError, KeyError, TypeError):
            return self._send(400, {"message": "No invitation in this URL"})
        flow = self.standin.flow(key=key)
        if flow is None:
            return self._send(404, {"message": "Unknown invitation"})
        self.standin.invitation_fetched(flow, hold_offers=query.get("hold") == "1")
        self._send(200, {"ok": True})

    # --- ACA-Py's admin API -------------------------------------------------------------------

    def acapy_create_invitation(self, parts, query, body):
        flow = self.standin.new_flow()
        self.standin.record("acapy.create_invitation", flow)
        label = body.get("my_label", "issuer") if isinstance(body, dict) else "issuer"
        message = invitation_message(flow, label)
        return 200, {
            "oob_id": str(uuid.uuid4()),
            "invi_msg_id": flow.key,
            "invitation": message,
            "invitation_url": f"{self.standin.base_url}/invitation?oob={b64(message)}",
            "state": "initial",
            "trace": False,
        }

    def acapy_connections(self, parts, query, body):
        flow = self.standin.flow(key=query.get("invitation_msg_id", ""))
        self.standin.record("acapy.connections", flow)
        # ACA-Py lists the connection only once the wallet has answered the invitation.
        results = [connection_record(flow)] if flow and flow.fetched else []
        return 200, {"results": results}

    def acapy_connection(self, parts, query, body):
        flow = self.standin.flow(connection_id=parts[1])
        self.standin.record("acapy.connection", flow)
        if flow is None or not flow.fetched:
            return 404, {"message": "Record not found"}
        return 200, connection_record(flow)

    def acapy_did_create(self, parts, query, body):
        self.standin.record("acapy.did_create", None)
        return 200, {"result": {"did": "did:key:z6MkstandinIssuer", "verkey": "standin", "method": "key",
                                "key_type": "ed25519", "posture": "wallet_only"}}

    def acapy_send(self, parts, query, body):
        flow = self.standin.flow(connection_id=str(body.get("connection_id", "")))
        self.standin.record("acapy.send", flow)
        if flow is None or not flow.connected:
            return 400, {"message": "Connection not ready"}
        if not isinstance(body.get("filter"), dict):
            return 422, {"message": "filter is required"}
        flow.cred_ex_id = str(uuid.uuid4())
        with self.standin.lock:
            self.standin.by_exchange[flow.cred_ex_id] = flow
        self.standin.offer_sent(flow)
        return 200, exchange_record(flow)

    def acapy_record(self, parts, query, body):
        flow = self.standin.flow(cred_ex_id=parts[2])
        self.standin.record("acapy.record", flow)
        if flow is None:
            return 404, {"message": "Record not found"}
        return 200, {"cred_ex_record": exchange_record(flow)}

    def acapy_records(self, parts, query, body):
        flow = self.standin.flow(connection_id=query.get("connection_id", ""))
        self.standin.record("acapy.records", flow)
        records = [{"cred_ex_record": exchange_record(flow)}] if flow and flow.cred_ex_id else []
        return 200, {"results": records}

    def acapy_status(self, parts, query, body):
        self.standin.record("acapy.status", None)
        if parts[-1] == "ready":
            return 200, {"ready": True}
        if parts[-1] == "live":
            return 200, {"alive": True}
        return 200, {"version": "1.7.0-standin", "label": "bench issuer"}

    # --- The agent REST API -------------------------------------------------------------------

    def rest_invitation(self, parts, query, body):
        flow = self.standin.new_flow()
        self.standin.record("rest.create_invitation", flow)
        message = invitation_message(flow, "issuer")
        return 200, {"connectionId": flow.connection_id,
                     "invitationUrl": f"{self.standin.base_url}/invitation?c_i={b64(message)}"}

    def rest_connection(self, parts, query, body):
        flow = self.standin.flow(connection_id=parts[1])
        self.standin.record("rest.connection", flow)
        if flow is None:
            return 404, {"message": "Unknown connection"}
        return 200, "established" if flow.connected else "invited"

    def rest_process(self, parts, query, body):
        flow = self.standin.flow(connection_id=str(body.get("connectionId", "")))
        self.standin.record("rest.process", flow)
        if flow is None or not flow.connected:
            return 400, {"message": "Connection not established"}
        if not isinstance(body.get("attributes"), dict):
            return 400, {"message": "attributes are required"}
        flow.cred_ex_id = str(uuid.uuid4())
        with self.standin.lock:
            self.standin.by_exchange[flow.cred_ex_id] = flow
        self.standin.offer_sent(flow)
        return 200, {"processId": flow.cred_ex_id}

    def rest_process_state(self, parts, query, body):
        flow = self.standin.flow(cred_ex_id=parts[2])
        self.standin.record("rest.process_state", flow)
        if flow is None:
            return 404, {"message": "Unknown process"}
        return 200, "DONE" if flow.credential_done else "IN_PROGRESS"


# Path segments that are part of a route; any other segment after the first is an id ("*").
FIXED = frozenset({"create-invitation", "did", "create", "send", "send-offer", "records", "ready", "live",
                   "invitation", "process", "state"})

ROUTES = {
    ("POST", ("out-of-band", "create-invitation")): StandInHandler.acapy_create_invitation,
    ("GET", ("connections",)): StandInHandler.acapy_connections,
    ("GET", ("connections", "*")): StandInHandler.acapy_connection,
    ("POST", ("wallet", "did", "create")): StandInHandler.acapy_did_create,
    ("POST", ("issue-credential-2.0", "send")): StandInHandler.acapy_send,
    ("POST", ("issue-credential-2.0", "send-offer")): StandInHandler.acapy_send,
    ("GET", ("issue-credential-2.0", "records")): StandInHandler.acapy_records,
    ("GET", ("issue-credential-2.0", "records", "*")): StandInHandler.acapy_record,
    ("GET", ("status",)): StandInHandler.acapy_status,
    ("GET", ("status", "ready")): StandInHandler.acapy_status,
    ("GET", ("status", "live")): StandInHandler.acapy_status,
    ("POST", ("connection", "invitation")): StandInHandler.rest_invitation,
    ("GET", ("connection", "*")): StandInHandler.rest_connection,
    ("POST", ("issue", "process")): StandInHandler.rest_process,
    ("GET", ("issue", "process", "*", "state")): StandInHandler.rest_process_state,
}
