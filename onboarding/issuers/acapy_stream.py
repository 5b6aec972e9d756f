"""ACA-Py's events over its admin websocket (``<admin URL>/ws``).

The agent sends every event it would post as a webhook to each authenticated websocket as well, as
``{"topic": ..., "payload": ...}``: one connection that the portal opens and keeps, instead of one
HTTP request to the portal per event (eleven per registration). Between events the agent sends a
"ping" topic every 5 s; its first message ("settings") says whether the admin API key was accepted.

Failures raise the backend's own errors (onboarding/issuers/base.py): ``IssuerUnavailable`` when
the agent cannot be reached or the connection breaks, ``IssuerRejected`` when it refuses the key.

The websocket protocol is websockets' (its Sans-I/O layer); the socket is read here, in the one
thread that applies the events. The library's threaded client reads in a thread of its own and
hands each message over: half as much CPU again per event (0.14-0.16 against 0.09-0.10 ms with a
stand-in agent; eleven events per registration, issue 15).
"""

from __future__ import annotations

import socket
import ssl
import time
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from websockets.client import ClientProtocol
from websockets.exceptions import InvalidStatus, InvalidURI
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.uri import WebSocketURI, parse_uri

from onboarding.issuers.base import IssuerRejected, IssuerUnavailable, json_object

# ACA-Py's events are a few KiB (a credential exchange with its attributes the largest); a message
# far larger is not one of them, and the client refuses it rather than holding it in memory.
MAX_EVENT_BYTES = 256 * 1024
# The agent's own topics that carry no event of a record.
CONTROL_TOPICS = frozenset({"ping", "settings"})
# The agent says something every 5 s at least (its "ping" topic): a stream silent far longer than
# that is broken even if the connection looks open (an agent frozen, a network path gone).
SILENT_SECONDS = 30.0
READ_BYTES = 64 * 1024


@dataclass(frozen=True)
class AgentEvent:
    topic: str
    payload: dict[str, Any]


def stream_url(admin_url: str) -> str:
    """The websocket beside the admin API: http://agent:8031 -> ws://agent:8031/ws."""
    parts = urlsplit(admin_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise IssuerRejected(f"ACAPY_ADMIN_URL is not an http(s) URL: {admin_url[:100]!r}")
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ws", "", ""))


class AcaPyEventStream:
    """One connection to the agent's event websocket; a context manager.

    ``next_event(timeout)`` returns the next event of a record, or None when none came within
    ``timeout`` seconds (the caller's chance to stop). Compression is not asked for: the agent
    would spend CPU deflating every event, and its events travel on a local network."""

    def __init__(self, admin_url: str, api_key: str, *, open_timeout: float = 10.0):
        self.url = stream_url(admin_url)
        self.api_key = api_key
        self.open_timeout = open_timeout
        self._socket: socket.socket | None = None
        self._protocol: ClientProtocol | None = None
        self._messages: deque[str] = deque()
        self._fragments: list[bytes] | None = None
        self._heard = 0.0

    def __enter__(self) -> AcaPyEventStream:
        try:
            uri = parse_uri(self.url)
        except InvalidURI as err:
            raise IssuerRejected(f"not a websocket address: {self.url[:100]!r}") from err
        try:
            self._socket = _open_socket(uri, self.open_timeout)
        except OSError as err:  # refused, unreachable, timed out, TLS failed
            raise IssuerUnavailable(f"the agent's event stream is unreachable: {err.__class__.__name__}") from err
        self._heard = time.monotonic()
        try:
            self._handshake(uri)
            self._expect_authenticated()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        sock, protocol = self._socket, self._protocol
        self._socket = self._protocol = None
        if sock is None:
            return
        try:
            if protocol is not None and protocol.state is State.OPEN:
                protocol.send_close()
                for data in protocol.data_to_send():
                    sock.sendall(data)
        except OSError:
            pass  # going anyway
        finally:
            sock.close()

    def _handshake(self, uri: WebSocketURI) -> None:
        protocol = self._protocol = ClientProtocol(uri, max_size=MAX_EVENT_BYTES)
        request = protocol.connect()
        request.headers["x-api-key"] = self.api_key
        request.headers["User-Agent"] = "registerft"
        protocol.send_request(request)
        self._send()
        deadline = time.monotonic() + self.open_timeout
        while protocol.state is State.CONNECTING:
            if not self._read(deadline - time.monotonic()):
                raise IssuerUnavailable("the agent's event stream did not answer the handshake in time")
        if isinstance(protocol.handshake_exc, InvalidStatus):
            status = protocol.handshake_exc.response.status_code
            if status in (401, 403):
                raise IssuerRejected(f"the agent refused the event stream ({status})")
            raise IssuerUnavailable(f"the agent answered the event stream with {status}")
        if protocol.handshake_exc is not None:
            raise IssuerUnavailable(f"the agent's event stream failed: {protocol.handshake_exc.__class__.__name__}")

    def _expect_authenticated(self) -> None:
        """The agent's first message names whether the key was accepted; without it the stream
        would carry nothing but pings."""
        first = self._receive(self.open_timeout)
        if first is None or first.get("topic") != "settings":
            raise IssuerUnavailable("the agent's event stream did not start with its settings")
        payload = first.get("payload")
        if not isinstance(payload, dict) or payload.get("authenticated") is not True:
            raise IssuerRejected("the agent did not accept ACAPY_ADMIN_API_KEY for its event stream")

    @property
    def buffered(self) -> int:
        """Messages already read from the socket and not handed out yet."""
        return len(self._messages)

    def next_event(self, timeout: float) -> AgentEvent | None:
        """The next event of a record within ``timeout`` seconds, or None."""
        message = self._receive(timeout)
        if message is None:
            return None
        topic, payload = message.get("topic"), message.get("payload")
        if not isinstance(topic, str) or topic in CONTROL_TOPICS or not isinstance(payload, dict):
            return None
        return AgentEvent(topic=topic, payload=payload)

    def _receive(self, timeout: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while not self._messages:
            if time.monotonic() - self._heard > SILENT_SECONDS:
                raise IssuerUnavailable(f"the agent's event stream has been silent for {SILENT_SECONDS:g} s")
            if not self._read(deadline - time.monotonic()):
                return None
        # Not one of the agent's messages (None): skipped, the stream goes on.
        return json_object(self._messages.popleft())

    def _read(self, timeout: float) -> bool:
        """What the agent sent within ``timeout`` seconds, fed to the protocol; False if nothing came."""
        if self._socket is None or self._protocol is None:
            raise IssuerUnavailable("the event stream is closed")
        if timeout <= 0:
            return False
        self._socket.settimeout(timeout)
        try:
            data = self._socket.recv(READ_BYTES)
        except TimeoutError:
            return False
        except OSError as err:
            raise IssuerUnavailable(f"the event stream broke: {err.__class__.__name__}") from err
        protocol = self._protocol
        if data:
            protocol.receive_data(data)
        else:
            protocol.receive_eof()
        self._send()  # the protocol's answers: pongs, the closing handshake
        for event in protocol.events_received():
            if isinstance(event, Frame):
                self._collect(event)
        if protocol.handshake_exc is not None:
            return True  # the handshake's answer: _handshake says what it means
        if protocol.parser_exc is not None:  # a frame too large or malformed: the protocol closes
            raise IssuerUnavailable(f"the event stream broke: {protocol.parser_exc.__class__.__name__}")
        if protocol.state is not State.OPEN and protocol.state is not State.CONNECTING:
            code = protocol.close_rcvd.code if protocol.close_rcvd is not None else "no code"
            raise IssuerUnavailable(f"the agent closed the event stream ({code})")
        self._heard = time.monotonic()
        return True

    def _collect(self, frame: Frame) -> None:
        """Text messages, whole: a message may come in fragments (a first frame, continuations)."""
        if frame.opcode is Opcode.TEXT:
            self._fragments = [frame.data]
        elif frame.opcode is Opcode.CONT and self._fragments is not None:
            self._fragments.append(frame.data)
        else:
            return  # binary, ping, pong, close: the protocol answers what needs an answer
        if frame.fin:
            self._messages.append(b"".join(self._fragments).decode("utf-8", errors="replace"))
            self._fragments = None

    def _send(self) -> None:
        assert self._socket is not None and self._protocol is not None
        try:
            for data in self._protocol.data_to_send():
                if data:
                    self._socket.sendall(data)
        except OSError as err:
            raise IssuerUnavailable(f"the event stream broke: {err.__class__.__name__}") from err


def _open_socket(uri: WebSocketURI, timeout: float) -> socket.socket:
    sock = socket.create_connection((uri.host, uri.port), timeout=timeout)
    if not uri.secure:
        return sock
    try:
        return ssl.create_default_context().wrap_socket(sock, server_hostname=uri.host)
    except BaseException:
        sock.close()
        raise
