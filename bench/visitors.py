"""Visitors driven from Python: they prepare the sessions wrk replays, and walk the whole flow to
count what one registration costs the issuer.

The portal runs with production settings, so its cookies are Secure; these visitors send the
proxy's ``X-Forwarded-Proto: https`` and keep their cookies themselves over plain loopback HTTP.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests

T = TypeVar("T")

SHORT_LINK = re.compile(r'id="invitation-url"[^>]*value="([^"]+)"')
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
DETAILS = {"first_name": "Bench", "last_name": "Visitor", "institution": "Loopback"}

_local = threading.local()


def _http() -> requests.Session:
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


class FlowError(Exception):
    """The portal did not answer a step as the flow expects."""


class Visitor:
    def __init__(self, base_url: str):
        self.base_url = base_url
        self.origin = "https://" + urlsplit(base_url).netloc
        self.cookies: dict[str, str] = {}
        self.short_link = ""
        self.invitation_url = ""
        self.form_token = ""
        self.polls = 0

    def send(self, method: str, path: str, *, data: dict[str, str] | None = None) -> requests.Response:
        headers = {"X-Forwarded-Proto": "https"}
        if method == "POST":
            headers["Origin"] = self.origin
        http = _http()
        url = path if path.startswith("http") else self.base_url + path
        response = http.request(
            method, url, headers=headers, cookies=self.cookies, data=data, allow_redirects=False, timeout=30
        )
        http.cookies.clear()
        self.cookies.update(response.cookies.get_dict())
        return response

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    # --- The steps ------------------------------------------------------------------------------

    def start(self) -> None:
        response = self.send("GET", "/")
        found = SHORT_LINK.search(response.text)
        if response.status_code != 200 or not found:
            raise FlowError(f"GET / answered {response.status_code} without an invitation link")
        self.short_link = found.group(1)

    def scan(self, *, hold_offers: bool = False) -> None:
        """What a wallet does with the QR code: open the short link, then fetch the invitation."""
        response = self.send("GET", urlsplit(self.short_link).path)
        if response.status_code != 302:
            raise FlowError(f"the short link answered {response.status_code}")
        self.invitation_url = response.headers["Location"]
        url = self.invitation_url + ("&hold=1" if hold_offers else "")
        if requests.get(url, timeout=30).status_code != 200:
            raise FlowError("the stand-in did not know the invitation")

    def poll(self, path: str) -> dict[str, Any]:
        self.polls += 1
        response = self.send("GET", path)
        if response.status_code != 200:
            raise FlowError(f"{path} answered {response.status_code}")
        return response.json()

    def moved_on(self, path: str, target: str) -> bool:
        payload = self.poll(path)
        if payload.get("state") == "failed":
            raise FlowError(f"{path} says the registration failed: {payload.get('message')}")
        return payload.get("state") == "moved" and payload.get("next") == target

    def open_form(self) -> None:
        response = self.send("GET", "/name")
        found = CSRF_FIELD.search(response.text)
        if response.status_code != 200 or not found:
            raise FlowError(f"GET /name answered {response.status_code} without a form")
        self.form_token = found.group(1)

    def form_body(self) -> dict[str, str]:
        return {**DETAILS, "csrfmiddlewaretoken": self.form_token}

    def submit(self) -> None:
        response = self.send("POST", "/name", data=self.form_body())
        if response.status_code != 302 or not response.headers.get("Location", "").endswith("/loading/"):
            raise FlowError(f"POST /name answered {response.status_code}")

    def finish(self) -> None:
        if self.send("GET", "/success").status_code != 200:
            raise FlowError("GET /success did not show the success page")


# --- Many visitors at once ------------------------------------------------------------------------


def each(function: Callable[[Visitor], T], visitors: Iterable[Visitor], *, threads: int = 8) -> list[T]:
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(function, visitors))


def wait_until(visitors: list[Visitor], path: str, target: str, *, timeout: float, every: float = 0.5) -> None:
    """Poll ``path`` for every visitor until each has moved on to ``target``."""
    pending = list(visitors)
    deadline = time.monotonic() + timeout
    while pending:
        if time.monotonic() > deadline:
            raise FlowError(f"{len(pending)} visitors still wait on {path} after {timeout:.0f} s")
        moved = each(lambda visitor: visitor.moved_on(path, target), pending)
        pending = [visitor for visitor, done in zip(pending, moved) if not done]
        if pending:
            time.sleep(every)


def invited(base_url: str, count: int) -> list[Visitor]:
    """Visitors on the QR code page whose wallet never scans it."""
    visitors = [Visitor(base_url) for _ in range(count)]
    each(Visitor.start, visitors)
    return visitors


def connected(base_url: str, count: int, *, hold_offers: bool = False) -> list[Visitor]:
    """Visitors whose wallet connected, with the details form open."""
    visitors = invited(base_url, count)
    each(lambda visitor: visitor.scan(hold_offers=hold_offers), visitors)
    wait_until(visitors, "/check_connection/status", "/name", timeout=60)
    each(Visitor.open_form, visitors)
    return visitors


def offered(base_url: str, count: int) -> list[Visitor]:
    """Visitors waiting for a wallet that never answers the credential offer."""
    visitors = connected(base_url, count, hold_offers=True)
    each(Visitor.submit, visitors)
    return visitors


def whole_flow(visitor: Visitor, *, poll_every: float, timeout: float = 60) -> float:
    """One visitor from the QR code to the success page, polling far more often than a browser
    does; returns the seconds it took."""
    started = time.monotonic()
    visitor.start()
    visitor.scan()
    wait_until([visitor], "/check_connection/status", "/name", timeout=timeout, every=poll_every)
    visitor.open_form()
    visitor.submit()
    wait_until([visitor], "/loading/status", "/success", timeout=timeout, every=poll_every)
    visitor.finish()
    return time.monotonic() - started
