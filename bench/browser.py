"""A light HTTP client for the event scenario's simulated browsers and its webhook relay.

The benchmark runs on the same cores as the agents it measures, and what it spends the agents
lack. A request through ``requests`` cost the benchmark about a millisecond of CPU time; a request
on a kept-alive ``http.client`` connection costs a fraction of that, and at an event the browsers
run on the visitors' phones, not beside the agent. Like a browser, it sends a request once more on
a new connection when the server has just closed the kept-alive one.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode, urlsplit

TIMEOUT_SECONDS = 30
# What a kept-alive connection closed by the server looks like to the next request on it.
STALE = (http.client.RemoteDisconnected, http.client.BadStatusLine, ConnectionResetError, BrokenPipeError)


class BrowserError(Exception):
    """The request got no answer (refused, reset, timed out)."""


@dataclass
class Answer:
    status_code: int
    headers: dict[str, str]
    body: bytes
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


class Browser:
    """One kept-alive connection to ``base_url``; not shared between threads."""

    def __init__(self, base_url: str):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self._connection: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, *, data: dict[str, str] | None = None, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Answer:
        headers = dict(headers or {})
        if data is not None:
            body = urlencode(data).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            reused = self._connection is not None
            connection = self._connection or http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT_SECONDS)
            self._connection = connection
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
            except STALE as err:
                # A kept-alive connection the server closed while idle took nothing in: a new one may
                # carry the request again, whatever its method.
                self.close()
                if attempt == 2 or not reused:
                    raise BrowserError(f"{method} {path}: {err!r}") from err
                continue
            except (OSError, http.client.HTTPException) as err:
                self.close()
                raise BrowserError(f"{method} {path}: {err!r}") from err
            if response.will_close:
                self.close()
            return Answer(response.status, {name.lower(): value for name, value in response.getheaders()}, payload,
                          _cookies(response.headers.get_all("Set-Cookie") or []))
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _cookies(lines: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in lines:
        jar: SimpleCookie = SimpleCookie()
        jar.load(line)
        found.update({name: morsel.value for name, morsel in jar.items()})
    return found
