"""Simulated visitors for the load test: each one a thread with its own ``requests.Session`` and its
own client address, going through the whole flow as a phone's browser would behind a TLS proxy.

The wallet's part is played by the stand-in issuer (``tests.fakes.FakeAgent``): fetching the
invitation URL is the scan, after which the stand-in connects, accepts the offer and tells the
portal by webhook.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

import requests

SHORT_LINK = re.compile(r'/i/([A-Za-z0-9_-]+)')
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
POLL_SECONDS = 0.3
DETAILS = {"first_name": "Load", "last_name": "Tester", "institution": "Loopback"}


@dataclass
class Outcome:
    number: int
    reached_success: bool = False
    waited_in_line: bool = False
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Visitor:
    def __init__(self, *, base_url: str, number: int, deadline: float) -> None:
        self.base_url = base_url
        self.deadline = deadline
        self.outcome = Outcome(number)
        self.session = requests.Session()
        # One address per visitor, as at a venue with many networks; https as the proxy says.
        self.session.headers.update({
            "X-Forwarded-For": f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}",
            "X-Forwarded-Proto": "https",
            "Accept-Language": "en",
        })

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", self.base_url + path, **kwargs)

    def request(self, method: str, url: str, **kwargs) -> requests.Response:
        response = self.session.request(method, url, timeout=30, allow_redirects=False, **kwargs)
        # The portal marks its cookies Secure, rightly: the proxy in front speaks https. The test
        # talks to gunicorn behind that proxy over plain http, so it keeps them sendable.
        for cookie in self.session.cookies:
            cookie.secure = False
        return response

    def expect(self, response: requests.Response, *statuses: int) -> bool:
        if response.status_code in statuses:
            return True
        self.outcome.errors.append(f"{response.request.method} {response.url} -> {response.status_code}")
        return False

    def poll(self, path: str, until: str) -> bool:
        """Poll a status endpoint until it sends the visitor to ``until``."""
        while time.monotonic() < self.deadline:
            response = self.get(path, headers={"Accept": "application/json"})
            if not self.expect(response, 200):
                return False
            payload = response.json()
            if payload.get("next") == until:
                return True
            if payload.get("next") or payload.get("state") == "failed":
                self.outcome.errors.append(f"{path} sent the visitor to {payload.get('next')} ({payload.get('state')})")
                return False
            time.sleep(POLL_SECONDS)
        self.outcome.errors.append(f"{path} still waiting at the deadline")
        return False

    def run(self) -> Outcome:
        started = time.monotonic()
        try:
            self._flow()
        except requests.RequestException as err:
            self.outcome.errors.append(f"request failed: {err!r}")
        finally:
            self.outcome.seconds = time.monotonic() - started
            self.session.close()
        return self.outcome

    def _start_page(self) -> str | None:
        """The start page, after the line at the door if there is one; its body."""
        while True:
            response = self.get("/")
            if not self.expect(response, 200):
                return None
            if "data-queue-position" not in response.text:
                return response.text
            self.outcome.waited_in_line = True
            if not self.poll("/queue/status", "/"):
                return None

    def _flow(self) -> None:
        page = self._start_page()
        if page is None:
            return
        code = SHORT_LINK.search(page)
        if code is None:
            self.outcome.errors.append("no invitation link on the start page")
            return
        # The scan: the short link redirects to the invitation, which the stand-in's wallet fetches.
        redirect = self.get(f"/i/{code.group(1)}")
        if not self.expect(redirect, 302):
            return
        if not self.expect(self.request("GET", redirect.headers["Location"]), 200):
            return
        if not self.poll("/check_connection/status", "/name"):
            return
        form = self.get("/name")
        if not self.expect(form, 200):
            return
        token = CSRF_FIELD.search(form.text)
        if token is None:
            self.outcome.errors.append("no CSRF token on the details form")
            return
        origin = self.base_url.replace("http://", "https://")
        sent = self.request(
            "POST", self.base_url + "/name", data={**DETAILS, "csrfmiddlewaretoken": token.group(1)},
            headers={"Referer": origin + "/name", "Origin": origin},
        )
        if not self.expect(sent, 302):
            return
        if not self.poll("/loading/status", "/success"):
            return
        done = self.get("/success")
        self.outcome.reached_success = self.expect(done, 200)


def run_crowd(*, base_url: str, count: int, start_within: float, time_limit: float) -> list[Outcome]:
    """``count`` visitors, started evenly within ``start_within`` seconds; each gives up at the
    time limit."""
    deadline = time.monotonic() + time_limit
    visitors = [Visitor(base_url=base_url, number=number + 1, deadline=deadline) for number in range(count)]
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def run(visitor: Visitor, delay: float) -> None:
        time.sleep(delay)
        outcome = visitor.run()
        with lock:
            outcomes.append(outcome)

    threads = [
        threading.Thread(target=run, args=(visitor, start_within * index / max(count, 1)), daemon=True)
        for index, visitor in enumerate(visitors)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()) + 35)
    return sorted(outcomes, key=lambda outcome: outcome.number)
