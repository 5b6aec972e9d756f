"""ACA-Py's events over its admin websocket (``<admin URL>/ws``).

The agent sends every event it would post as a webhook to each authenticated websocket as well, as
``{"topic": ..., "payload": ...}``: one connection that the portal opens and keeps, instead of one
HTTP request to the portal per event (eleven per registration). Between events the agent sends a
"ping" topic every 5 s; its first message ("settings") says whether the admin API key was accepted.

Failures raise the backend's own errors (onboarding/issuers/base.py): ``IssuerUnavailable`` when
the agent cannot be reached or the connection breaks, ``IssuerRejected`` when it refuses the key.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException
from websockets.sync.client import ClientConnection, connect

from onboarding.issuers.base import IssuerRejected, IssuerUnavailable, json_object

# ACA-Py's events are a few KiB (a credential exchange with its attributes the largest); a message
# far larger is not one of them, and the client refuses it rather than holding it in memory.
MAX_EVENT_BYTES = 256 * 1024
# The agent's own topics that carry no event of a record.
CONTROL_TOPICS = frozenset({"ping", "settings"})


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
        self._socket: ClientConnection | None = None
        self._opened = ExitStack()

    def __enter__(self) -> AcaPyEventStream:
        try:
            self._socket = self._opened.enter_context(connect(
                self.url, additional_headers={"x-api-key": self.api_key}, compression=None,
                open_timeout=self.open_timeout, max_size=MAX_EVENT_BYTES, user_agent_header="registerft",
            ))
        except InvalidStatus as err:
            status = err.response.status_code
            if status in (401, 403):
                raise IssuerRejected(f"the agent refused the event stream ({status})") from err
            raise IssuerUnavailable(f"the agent answered the event stream with {status}") from err
        except InvalidURI as err:
            raise IssuerRejected(f"not a websocket address: {self.url[:100]!r}") from err
        except (OSError, TimeoutError, WebSocketException) as err:
            raise IssuerUnavailable(f"the agent's event stream is unreachable: {err.__class__.__name__}") from err
        try:
            self._expect_authenticated()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._socket = None
        self._opened.close()

    def _expect_authenticated(self) -> None:
        """The agent's first message names whether the key was accepted; without it the stream
        would carry nothing but pings."""
        first = self._receive(self.open_timeout)
        if first is None or first.get("topic") != "settings":
            raise IssuerUnavailable("the agent's event stream did not start with its settings")
        payload = first.get("payload")
        if not isinstance(payload, dict) or payload.get("authenticated") is not True:
            raise IssuerRejected("the agent did not accept ACAPY_ADMIN_API_KEY for its event stream")

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
        if self._socket is None:
            raise IssuerUnavailable("the event stream is closed")
        try:
            text = self._socket.recv(timeout=timeout)
        except TimeoutError:
            return None
        except ConnectionClosed as err:
            raise IssuerUnavailable(f"the agent closed the event stream ({err.rcvd.code if err.rcvd else 'no code'})") from err
        except (OSError, WebSocketException) as err:
            raise IssuerUnavailable(f"the event stream broke: {err.__class__.__name__}") from err
        # Not one of the agent's messages (None): skipped, the stream goes on.
        return json_object(text)
