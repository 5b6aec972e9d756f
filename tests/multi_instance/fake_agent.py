"""A stand-in for ACA-Py's admin API, just enough for the portal's acapy backend to invite and offer.

The test itself plays the agent's webhooks, so it decides which instance hears about each change.
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeAgent:
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.calls: list[tuple[str, str]] = []
        self.invitations: list[str] = []
        self.offers: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-acapy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeAgent:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def answer(self, method: str, path: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.calls.append((method, path))
            if (method, path) == ("POST", "/out-of-band/create-invitation"):
                invitation_id = str(uuid.uuid4())
                self.invitations.append(invitation_id)
                return 200, {
                    "invi_msg_id": invitation_id,
                    "invitation_url": f"https://agent.example/?oob={invitation_id}",
                    "invitation": {"@id": invitation_id, "@type": "https://didcomm.org/out-of-band/1.1/invitation"},
                }
            if (method, path) == ("POST", "/issue-credential-2.0/send"):
                exchange_id = str(uuid.uuid4())
                self.offers.append(exchange_id)
                return 200, {"cred_ex_id": exchange_id, "state": "offer-sent"}
            if (method, path) == ("GET", "/status"):
                return 200, {"version": "fake"}
        # Anything else (the portal asking for states itself) is not expected in these tests.
        return 500, {"error": f"the fake agent does not answer {method} {path}"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                if self.headers.get("X-API-Key") != agent.api_key:
                    status, body = 401, {"error": "unauthorised"}
                else:
                    status, body = agent.answer(method, self.path.split("?", 1)[0])
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 (the http.server API)
                self._reply("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._reply("POST")

            def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest shows failures
                pass

        return Handler
