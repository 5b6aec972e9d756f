"""One round of the event scenario (bench/event.py): *bare*, the benchmark driving the agents'
connect-and-issue flows itself at a fixed concurrency, or *portal*, visitors arriving at the portal
and polling as its pages say; and what is measured around either."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from bench.agents import DIDEXCHANGE, FLOW_TIMEOUT, WALLETS, Agents, Relay
from bench.browser import Answer, Browser, BrowserError
from bench.cpu import read_totals
from bench.portal import Portal
from tests.integration.agents import Agent

ARRIVAL_SECONDS = 5.0
# A visitor keeps waiting in line as long as it takes (200 visitors on a busy machine: minutes).
LINE_TIMEOUT = 900.0
SHORT_LINK = re.compile(r'id="invitation-url"[^>]*value="([^"]+)"')
POLL_URL = re.compile(r'data-poll-url="([^"]+)"')
POLL_INTERVAL = re.compile(r'data-poll-interval="(\d+)"')
FIRST_POLL = re.compile(r'data-poll-first="(\d+)"')
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
# The field the details form's script adds (static/onboarding/js/submit-once.js).
ANSWER_IN_PLACE = re.compile(r'data-answer-in-place="([^"]+)"')
ISSUER_CALL = re.compile(r"backend=acapy operation=(\w+) outcome=(\w+) duration_ms=(\d+)")


# --- One round -------------------------------------------------------------------------------------


@dataclass
class Round:
    kind: str  # "bare" or "portal"
    crowd: int
    concurrency: int = 0
    started: float = 0.0
    # The agent's age when the round began: the credentials it had issued (it grows slower with them).
    issued_before: int = 0
    arrivals: list[float] = field(default_factory=list)
    admitted: list[float] = field(default_factory=list)
    finished: list[float] = field(default_factory=list)  # the credential in the wallet (the issuer's "done")
    seen: list[float] = field(default_factory=list)  # the visitor on the success page
    connected: list[float] = field(default_factory=list)
    offered: list[float] = field(default_factory=list)
    waited: int = 0
    failures: list[str] = field(default_factory=list)
    calls_ms: list[int] = field(default_factory=list)
    failed_calls: int = 0
    portal_cpu: float = 0.0
    agent_cpu: float = 0.0
    # The issuer's event loop: seconds it ran, and was ready to run without a core (CPU contention).
    loop_ran: float = 0.0
    loop_waited: float = 0.0
    by_kind: dict[str, tuple[float, int]] = field(default_factory=dict)
    machine_busy: float = 0.0
    machine_cpu: float = 0.0  # CPU seconds of the whole machine (every process) in the round
    wallets_cpu: float = 0.0
    webhooks: int = 0
    bench_cpu: float = 0.0  # this process's own CPU time: the simulated browsers, wallets' driver and relay

    @property
    def done(self) -> int:
        return len(self.finished)

    def note(self, *, arrived: float, admitted: float, connected: float, offered: float, finished: float) -> None:
        """One flow done: when it arrived, was let in, connected, was offered and got its credential."""
        self.arrivals.append(arrived)
        self.admitted.append(admitted)
        self.connected.append(connected)
        self.offered.append(offered)
        self.finished.append(finished)

    @property
    def age(self) -> float:
        """The agent's age halfway through the round, in credentials issued."""
        return self.issued_before + self.done / 2

    @property
    def rate(self) -> float:
        if not self.finished:
            return 0.0
        return len(self.finished) / max(1e-3, max(self.finished) - self.started)

    def latencies(self) -> list[float]:
        return sorted(done - arrived for arrived, done in zip(self.arrivals, self.finished))

    def while_waiting(self) -> tuple[float, float, float]:
        """While somebody waited in line: the seconds in which the agent had no flow of the
        portal's, and the mean number of new visitors' flows at the agent (invitation made,
        wallet not yet connected) and of offers at the agent (details sent, credential not yet
        issued): together, the places the line's limit bounds."""
        waits = [(a, b) for a, b in zip(self.arrivals, self.admitted) if b - a > 0.05]
        if not waits:
            return 0.0, float("nan"), float("nan")
        step, idle, moments, starting_sum, offering_sum = 0.02, 0.0, 0, 0, 0
        starting = list(zip(self.admitted, self.connected))
        offering = list(zip(self.offered, self.finished))
        moment, end = min(a for a, _ in waits), max(b for _, b in waits)
        while moment < end:
            if any(a <= moment < b for a, b in waits):
                moments += 1
                new = sum(a <= moment < b for a, b in starting)
                offers = sum(a <= moment < b for a, b in offering)
                starting_sum += new
                offering_sum += offers
                idle += step * (not new and not offers)
            moment += step
        return idle, starting_sum / max(1, moments), offering_sum / max(1, moments)

    def refill_delays(self) -> list[float]:
        """For each visitor let in after waiting: the time since a place last came free (a wallet
        connected, ending a new flow, or a credential was issued, ending an offer), as an estimate
        of how soon a freed place is taken."""
        freed = sorted([*self.connected, *self.finished])
        delays = []
        for arrived, admitted in zip(self.arrivals, self.admitted):
            before = [moment for moment in freed if moment < admitted]
            if admitted - arrived > 0.05 and before:
                delays.append(admitted - before[-1])
        return delays


def bare_at_age(portal: Round, rounds: list[Round], value: Callable[[Round], float] = lambda r: r.rate) -> float:
    """What the bare rounds' ``value`` (their rate, unless told) was at ``portal``'s age:
    interpolated between the nearest bare rounds of the same crowd before and after it (the agent
    grows slower with every credential, and a bare round just before the portal round ran on a
    younger agent); the nearest one alone where there is no bare round on one side."""
    bare = [r for r in rounds if r.kind == "bare" and r.crowd == portal.crowd and r.done]
    before = max((r for r in bare if r.age <= portal.age), key=lambda r: r.age, default=None)
    after = min((r for r in bare if r.age > portal.age), key=lambda r: r.age, default=None)
    if before is None or after is None:
        nearest = before or after
        return value(nearest) if nearest else 0.0
    weight = (portal.age - before.age) / (after.age - before.age)
    return value(before) + (value(after) - value(before)) * weight


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine so far."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


# --- Bare: the agents alone ------------------------------------------------------------------------


def bare_round(agents: Agents, relay: Relay, *, crowd: int, concurrency: int) -> Round:
    result = Round("bare", crowd, concurrency)
    lock = threading.Lock()
    counter = iter(range(crowd))

    def flow(number: int) -> None:
        holder = agents.holders[number % WALLETS]
        arrived = time.monotonic()
        call = time.monotonic()
        created = agents.issuer.post("/out-of-band/create-invitation",
                                     {"handshake_protocols": [DIDEXCHANGE], "my_label": "bench"}, auto_accept="true")
        result.calls_ms.append(int((time.monotonic() - call) * 1000))
        invitation_id = created["invi_msg_id"]
        holder.post("/out-of-band/receive-invitation", created["invitation"], auto_accept="true")
        connected_at, connection_id = relay.wait(lambda: relay.connected.get(invitation_id), "a connection")
        offered_at = time.monotonic()
        record = agents.issuer.post("/issue-credential-2.0/send", agents.offer_body(connection_id))
        result.calls_ms.append(int((time.monotonic() - offered_at) * 1000))
        done = relay.wait(lambda: relay.issued.get(record["cred_ex_id"]), "a credential")
        with lock:
            result.note(arrived=arrived, admitted=arrived, connected=connected_at, offered=offered_at, finished=done)

    def worker() -> None:
        while True:
            with lock:
                number = next(counter, None)
            if number is None:
                return
            try:
                flow(number)
            except (requests.RequestException, TimeoutError, KeyError) as err:
                with lock:
                    result.failures.append(repr(err)[:200])

    with relay.client_stream(agents.issuer):
        measured(result, agents, relay, None, lambda: run_threads(worker, concurrency))
    return result


def run_threads(target: Any, count: int, *args_list: Any) -> None:
    threads = [threading.Thread(target=target, args=(args_list[0][n],) if args_list else (), daemon=True)
               for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(FLOW_TIMEOUT * 3)


def measured(result: Round, agents: Agents, relay: Relay, portal: Portal | None, run: Any) -> None:
    cpu_dir = portal.workdir / "cpu" if portal else None
    kinds_before = read_totals(cpu_dir) if cpu_dir else {}
    portal_before = portal.worker_cpu_seconds() if portal else 0.0
    events_before = portal.events_cpu_seconds() if portal else 0.0
    agent_before = agents.cpu_seconds()
    wallets_before = agents.wallets_cpu_seconds()
    loop_before = agents.loop_seconds()
    busy_before, total_before = machine_ticks()
    webhooks_before = relay.received
    bench_before = sum(os.times()[:2])
    result.issued_before = relay.issued_count
    result.started = time.monotonic()
    run()
    result.bench_cpu = sum(os.times()[:2]) - bench_before
    busy_after, total_after = machine_ticks()
    result.machine_busy = (busy_after - busy_before) / max(1, total_after - total_before)
    result.machine_cpu = (busy_after - busy_before) / os.sysconf("SC_CLK_TCK")
    result.wallets_cpu = agents.wallets_cpu_seconds() - wallets_before
    result.agent_cpu = agents.cpu_seconds() - agent_before
    result.loop_ran, result.loop_waited = (after - before for after, before in zip(agents.loop_seconds(), loop_before))
    result.webhooks = relay.received - webhooks_before
    if portal and cpu_dir:
        time.sleep(1.2)  # the workers write their totals twice a second
        result.portal_cpu = portal.worker_cpu_seconds() - portal_before
        after = read_totals(cpu_dir)
        result.by_kind = {kind: (seconds - kinds_before.get(kind, (0.0, 0))[0], count - kinds_before.get(kind, (0.0, 0))[1])
                          for kind, (seconds, count) in after.items()}
        if portal.events is not None:
            # The agent's events read from its websocket: the acapy_events process, one message each.
            result.by_kind["events"] = (portal.events_cpu_seconds() - events_before, result.webhooks)


# --- Through the portal ----------------------------------------------------------------------------


class EventVisitor:
    """A visitor's browser, polling as the page's script does (bench/visitors.py's cookie handling)."""

    def __init__(self, portal: Portal, holder: Agent | None, browser: Browser | None = None):
        self.origin = "https://" + urlsplit(portal.base_url).netloc
        self.browser = browser or Browser(portal.base_url)
        self.holder = holder
        self.waited = False
        # The portal's cookies are Secure and this is plain loopback HTTP: kept by hand.
        self.cookies: dict[str, str] = {}

    def send(self, method: str, path: str, *, data: dict[str, str] | None = None, **headers: str) -> Answer:
        sent = {"X-Forwarded-Proto": "https", **headers}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        answer = self.browser.request(method, path, data=data, headers=sent)
        self.cookies.update(answer.cookies)
        return answer

    def get(self, path: str, **headers: str) -> Answer:
        return self.send("GET", path, **headers)

    def page_then_poll(self, path: str, target: str) -> dict[str, Any]:
        """Open ``path`` and poll as its page does until it moves on to ``target`` (a page that
        redirects there at once needs no poll)."""
        page = self.get(path)
        if page.status_code == 302 and urlsplit(page.headers["location"]).path.rstrip("/") == target.rstrip("/"):
            return {}
        if page.status_code != 200:
            raise RuntimeError(f"{path} answered {page.status_code}")
        return self.poll_until(page.text, target)

    def poll_until(self, page: str, target: str, *, timeout: float = FLOW_TIMEOUT) -> dict[str, Any]:
        """Polls as the page's script does; the answer that moved on."""
        found = POLL_URL.search(page)
        if found is None:
            raise RuntimeError(f"a page without a status to poll on the way to {target}")
        url = found.group(1)
        interval = int(POLL_INTERVAL.search(page).group(1)) / 1000
        first = FIRST_POLL.search(page)
        wait = min(interval, int(first.group(1)) / 1000) if first else interval
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(wait)
            data = self.get(url, Accept="application/json").json()
            if data.get("state") == "failed":
                raise RuntimeError(f"{url} failed: {data.get('message')}")
            if data.get("next"):
                if data["next"] != target:
                    raise RuntimeError(f"{url} moved to {data['next']}, not {target}")
                return data
            if data.get("poll_after_ms"):
                interval = int(data["poll_after_ms"]) / 1000
            wait = interval
        raise TimeoutError(f"{url} did not move on in time")

    def through_the_line(self) -> tuple[str, str]:
        """The invitation link, and the start page that shows it: loaded, or carried in place by
        the line's answer when the visitor's turn came (as the page's script shows it)."""
        while True:
            page = self.get("/")
            if page.status_code != 200:
                raise RuntimeError(f"/ answered {page.status_code}")
            text = page.text
            if not SHORT_LINK.search(text):
                self.waited = True
                text = self.poll_until(text, "/", timeout=LINE_TIMEOUT).get("html") or ""
            link = SHORT_LINK.search(text)
            if link:
                return link.group(1), text

    def scan(self, link: str) -> str:
        answer = self.get(urlsplit(link).path, Accept="application/json")
        invitation = answer.json()
        self.holder.post("/out-of-band/receive-invitation", invitation, auto_accept="true")
        return invitation["@id"]

    def details(self, start_page: str | None = None) -> dict[str, Any]:
        """Send the details: on the start page's own form when it showed it in place (``start_page``),
        or on /name's; as the form's script does, asking for the loading page as the answer, then
        poll as that page does until the credential is in the wallet (its answer)."""
        page = start_page or ""
        token = CSRF_FIELD.search(page)
        if token is None:
            form = self.get("/name")
            page = form.text
            token = CSRF_FIELD.search(page)
            if form.status_code != 200 or token is None:
                raise RuntimeError(f"GET /name answered {form.status_code} without a form")
        marker = ANSWER_IN_PLACE.search(page)
        data = {"first_name": "Bench", "last_name": "Visitor", "institution": "Loopback",
                "csrfmiddlewaretoken": token.group(1), **({marker.group(1): "1"} if marker else {})}
        sent = self.send("POST", "/name", Origin=self.origin, data=data)
        if sent.status_code == 200 and marker:
            return self.poll_until(sent.text, "/success")
        if sent.status_code != 302:
            raise RuntimeError(f"POST /name answered {sent.status_code}")
        return self.page_then_poll("/loading/", "/success")


def portal_round(agents: Agents, relay: Relay, portal: Portal, *, crowd: int) -> Round:
    result = Round("portal", crowd)
    lock = threading.Lock()
    log_offset = (portal.workdir / "gunicorn.log").stat().st_size

    def visit(number: int) -> None:
        visitor = EventVisitor(portal, agents.holders[number % WALLETS])
        time.sleep(max(0.0, result_start[0] + ARRIVAL_SECONDS * number / crowd - time.monotonic()))
        arrived = time.monotonic()
        try:
            link, start_page = visitor.through_the_line()
            admitted = time.monotonic()
            invitation_id = visitor.scan(link)
            # The pages show the next step in place when the answer says so, as their script does.
            in_place = visitor.poll_until(start_page, "/name").get("in_place")
            connected_at, connection_id = relay.wait(lambda: relay.connected.get(invitation_id), "a connection")
            offered = time.monotonic()
            if not visitor.details(start_page if in_place else None).get("in_place") and visitor.get("/success").status_code != 200:
                raise RuntimeError("no success page")
            seen = time.monotonic()
            done = relay.wait(lambda: relay.issued_on.get(connection_id), "a credential")
        except (BrowserError, requests.RequestException, RuntimeError, TimeoutError, ValueError, KeyError) as err:
            with lock:
                result.failures.append(repr(err)[:200])
            return
        with lock:
            result.note(arrived=arrived, admitted=admitted, connected=connected_at, offered=offered, finished=done)
            result.seen.append(seen)
            result.waited += visitor.waited

    result_start = [0.0]

    def run() -> None:
        result_start[0] = result.started
        run_threads(visit, crowd, list(range(crowd)))

    if relay.stream:
        portal.start_events()
    else:
        relay.forward_to = portal.base_url
    try:
        measured(result, agents, relay, portal, run)
    finally:
        relay.forward_to = ""
        portal.stop_events()
    with open(portal.workdir / "gunicorn.log", "rb") as handle:
        handle.seek(log_offset)
        for match in ISSUER_CALL.finditer(handle.read().decode(errors="replace")):
            result.calls_ms.append(int(match.group(3)))
            result.failed_calls += match.group(2) != "ok"
    return result
