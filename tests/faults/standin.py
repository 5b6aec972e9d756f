"""A misbehaving issuer agent on loopback, for the fault tests.

It answers the agent REST API (``/connection/...``, ``/issue/process...``) and the parts of ACA-Py's
admin API the portal uses, like a healthy agent, until a test sets a fault on one operation. The
wallet is played by the test itself: ``connected`` and ``accepted`` say what the wallet has done.

The server speaks HTTP/1.0 (one request per connection), so that ``refuse()`` really refuses: no
kept-alive connection survives the closed listening socket.
"""

from __future__ import annotations

import enum
import json
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class Fault(enum.StrEnum):
    REFUSE = "refuse"
    TIMEOUT = "timeout"
    SLOW = "slow"
    HTTP_500 = "http_500"
    HTTP_502 = "http_502"
    HTTP_503 = "http_503"
    HTTP_401 = "http_401"
    BAD_JSON = "bad_json"
    WRONG_SHAPE = "wrong_shape"
    UNKNOWN_STATE = "unknown_state"


HTML_ERROR = "<html><body><h1>{status}</h1><p>upstream trouble</p></body></html>"


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The portal hung up on a deliberately slow answer: that is the point, not an error.
        pass


class FaultyIssuer:
    """The agent's state, its fault and its call counter. ``start()`` returns the base URL."""

    def __init__(self, *, timeout: float) -> None:
        # A "timeout" answer arrives well after the portal gave up; a "slow" one well before.
        self.hang_seconds = timeout * 3
        self.slow_seconds = timeout * 0.4
        self.fault: Fault | None = None
        self.faulty_operation = ""
        self.connected = False
        self.accepted = False
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.port = 0
        self._server: QuietServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        handler = type("Handler", (FaultyHandler,), {"issuer": self})
        self._server = QuietServer(("127.0.0.1", self.port), handler)
        self.port = self._server.server_address[1]
        # A short poll interval: stopping (every test, and every "refuse") waits for one poll.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="faulty-issuer", daemon=True
        ).start()
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def break_(self, fault: Fault, operation: str) -> None:
        """From now on ``operation`` misbehaves as ``fault`` says."""
        self.fault, self.faulty_operation = fault, operation
        if fault == Fault.REFUSE:
            self.stop()

    def heal(self) -> None:
        """Behave again (and listen again, on the same port, after ``refuse``)."""
        if self._server is None:
            self.start()
        self.fault, self.faulty_operation = None, ""

    def count(self, operation: str) -> int:
        with self.lock:
            return self.calls[operation]


class FaultyHandler(BaseHTTPRequestHandler):
    issuer: FaultyIssuer
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._answer("GET")

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self._answer("POST")

    def _answer(self, method: str) -> None:
        url = urlsplit(self.path)
        parts = tuple(part for part in url.path.split("/") if part)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        found = route(method, parts)
        if found is None:
            return self._send(404, json.dumps({"message": "not found"}))
        operation, answer = found
        issuer = self.issuer
        with issuer.lock:
            issuer.calls[operation] += 1
        fault = issuer.fault if issuer.faulty_operation == operation else None
        if fault == Fault.TIMEOUT:
            time.sleep(issuer.hang_seconds)
        elif fault == Fault.SLOW:
            time.sleep(issuer.slow_seconds)
        if fault in (Fault.HTTP_500, Fault.HTTP_502, Fault.HTTP_503, Fault.HTTP_401):
            status = int(fault.value.removeprefix("http_"))
            return self._send(status, HTML_ERROR.format(status=status), content_type="text/html")
        if fault == Fault.BAD_JSON:
            return self._send(200, '{"state": "active", ')
        if fault == Fault.WRONG_SHAPE:
            return self._send(200, json.dumps([{"unexpected": True}]))
        data = answer(issuer, parts, query, unknown=fault == Fault.UNKNOWN_STATE)
        self._send(200, json.dumps(data))

    def _send(self, status: int, body: str, *, content_type: str = "application/json") -> None:
        raw = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


# --- The answers of a healthy agent -----------------------------------------------------------
# One visitor per test: every connection and exchange shares the wallet's flags.

CONNECTION_ID = "conn-" + uuid.uuid4().hex[:8]
INVITATION_ID = "invi-" + uuid.uuid4().hex[:8]
PROCESS_ID = "proc-" + uuid.uuid4().hex[:8]


def rest_invitation(issuer: FaultyIssuer, parts: tuple[str, ...], query: dict[str, str], *, unknown: bool) -> Any:
    return {"connectionId": CONNECTION_ID, "invitationUrl": f"{issuer.base_url}/invite?c_i=e30"}


def rest_connection(issuer: FaultyIssuer, parts: tuple[str, ...], query: dict[str, str], *, unknown: bool) -> Any:
    if unknown:
        return "teleported"
    return "established" if issuer.connected else "invited"


def rest_offer(issuer: FaultyIssuer, parts: tuple[str, ...], query: dict[str, str], *, unknown: bool) -> Any:
    return {"processId": PROCESS_ID}


def rest_process_state(issuer: FaultyIssuer, parts: tuple[str, ...], query: dict[str, str], *, unknown: bool) -> Any:
    if unknown:
        return "TELEPORTED"
    return "DONE" if issuer.accepted else "IN_PROGRESS"


def acapy_invitation(issuer: FaultyIssuer, parts: tuple[str, ...], query: dict[str, str], *, unknown: bool) -> Any:
    return {
        "invi_msg_id": INVITATION_ID,
        "invitation_url": f"{issuer.base_url}/invite?oob=e30",
        "invitation": {"@id": INVITATION_ID},
        "state": "initial",
    }


def acapy_connection_record(issuer: FaultyIssuer, *, unknown: bool) -> dict[str, Any]:
    state = "teleported" if unknown else ("active" if issuer.connected else "invitation")
    return {"connection_id": CONNECTION_ID, "invitation_msg_id": INVITATION_ID, "state": state}


def acapy_connections(issuer: FaultyIssuer, parts: tuple[str, ...], query: dict[str, str], *, unknown: bool) -> Any:
    return {"results": [acapy_connection_record(issuer, unknown=unknown)]}


def acapy_connection(issuer: FaultyIssuer, parts: tuple[str, ...], query: dict[str, str], *, unknown: bool) -> Any:
    return acapy_connection_record(issuer, unknown=unknown)


def acapy_did(issuer: FaultyIssuer, parts: tuple[str, ...], query: dict[str, str], *, unknown: bool) -> Any:
    return {"result": {"did": "did:key:z6MkFaultyIssuer", "verkey": "x", "method": "key"}}


def acapy_offer(issuer: FaultyIssuer, parts: tuple[str, ...], query: dict[str, str], *, unknown: bool) -> Any:
    return {"cred_ex_id": PROCESS_ID, "connection_id": CONNECTION_ID, "state": "offer-sent"}


def acapy_record(issuer: FaultyIssuer, parts: tuple[str, ...], query: dict[str, str], *, unknown: bool) -> Any:
    state = "teleported" if unknown else ("done" if issuer.accepted else "offer-sent")
    return {"cred_ex_record": {"cred_ex_id": PROCESS_ID, "connection_id": CONNECTION_ID, "state": state}}


def route(method: str, parts: tuple[str, ...]) -> tuple[str, Any] | None:
    """The portal's operation a request belongs to, and the healthy answer to it."""
    match method, parts:
        case "POST", ("connection", "invitation"):
            return "create_invitation", rest_invitation
        case "GET", ("connection", _):
            return "connection_status", rest_connection
        case "POST", ("issue", "process"):
            return "offer_credential", rest_offer
        case "GET", ("issue", "process", _, "state"):
            return "credential_status", rest_process_state
        case "POST", ("out-of-band", "create-invitation"):
            return "create_invitation", acapy_invitation
        case "GET", ("connections",):
            return "connection_status", acapy_connections
        case "GET", ("connections", _):
            return "connection_status", acapy_connection
        case "POST", ("wallet", "did", "create"):
            return "create_did", acapy_did
        case "POST", ("issue-credential-2.0", "send"):
            return "offer_credential", acapy_offer
        case "GET", ("issue-credential-2.0", "records", _):
            return "credential_status", acapy_record
    return None
