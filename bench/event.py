"""The event scenario of `make bench`: the portal with real agents against the same agents alone.

One real ACA-Py issuer (webhooks on) and a few holder agents as the visitors' wallets. Each round
is either *bare* (the benchmark drives connect-and-issue flows at the agents' admin APIs itself, at
a fixed concurrency, as an application without the portal would) or *portal* (visitors arrive
within 5 s at the portal under gunicorn with production settings and the default line, and poll
like the browser). Rounds are interleaved, bare first; bare runs at the best concurrency of a short
sweep. The issuer's webhooks go to a relay in this process, which notes when each connection and
credential is done (for both kinds of round) and, in portal rounds, passes each one on to the
portal as the agent would.

    .venv/bin/python -m bench --event-only
"""

from __future__ import annotations

import heapq
from collections import Counter
import json
import os
import re
import random
import secrets
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from bench.browser import Answer, Browser, BrowserError
from bench.cpu import read_totals
from bench.portal import Portal, free_port, log, process_cpu_seconds
from tests.integration.agents import Agent, ensure_acapy

DIDEXCHANGE = "https://didcomm.org/didexchange/1.1"
HOLDER_FLAGS = ["--auto-accept-invites", "--auto-accept-requests", "--auto-store-credential",
                "--auto-respond-credential-offer"]
WALLETS = 3
ARRIVAL_SECONDS = 5.0
# BENCH_EVENT_CROWDS ("60,200") and BENCH_EVENT_ROUNDS (3) make a shorter run for trying things out.
CROWDS = tuple(int(n) for n in os.environ.get("BENCH_EVENT_CROWDS", "60,200").split(","))
ROUNDS = int(os.environ.get("BENCH_EVENT_ROUNDS", "3"))
SWEEP = (3, 4, 5, 6)
SWEEP_FLOWS = 20
SLOWED_CROWD = 60
DEFAULT_CEILING = 24  # REGISTERFT_MAX_IN_PROGRESS's default (docs/settings.md)
LINE_CROWD = 1000
LINE_SECONDS = 20.0
MAX_LINE_CORES = 0.25
MAX_FRONT_P99_MS = 50.0
ISSUER_TIMEOUT = 5.0
FLOW_TIMEOUT = 120.0
# A visitor keeps waiting in line as long as it takes (200 visitors on a busy machine: minutes).
LINE_TIMEOUT = 900.0
SHORT_LINK = re.compile(r'id="invitation-url"[^>]*value="([^"]+)"')
POLL_URL = re.compile(r'data-poll-url="([^"]+)"')
POLL_INTERVAL = re.compile(r'data-poll-interval="(\d+)"')
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
ISSUER_CALL = re.compile(r"backend=acapy operation=(\w+) outcome=(\w+) duration_ms=(\d+)")

# The targets (docs/benchmark.md, issue 15).
MIN_SHARE_OF_BARE = 0.90
MAX_CPU_SHARE_OF_AGENT = 0.20
MAX_CALL_P99_S = 1.0


# --- The relay for the issuer's webhooks -----------------------------------------------------------


class Relay:
    """Receives the issuer's webhooks, notes when connections and credentials are done, and passes
    each one on to the portal while ``forward_to`` is set."""

    def __init__(self, secret: str):
        self.secret = secret
        self.port = free_port()
        self.forward_to = ""
        self.connected: dict[str, tuple[float, str]] = {}  # invitation id -> (time, connection id)
        self.issued: dict[str, float] = {}  # cred_ex_id -> time
        self.issued_on: dict[str, float] = {}  # connection id -> time
        self.received = 0
        self.topics: Counter[str] = Counter()  # "topic state" -> webhooks received
        self.errors: list[str] = []  # what the agent said of each connection or exchange it gave up
        self.changed = threading.Condition()
        self._local = threading.local()
        relay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = relay.receive(self.path, body, self.headers.get("x-api-key", ""))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="relay", daemon=True)

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}#{self.secret}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()

    def receive(self, path: str, body: bytes, key: str) -> int:
        now = time.monotonic()
        topic = path.strip("/").split("/")[-1]
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {}
        with self.changed:
            self.received += 1
            self.topics[f"{topic} {payload.get('state', '')}"] += 1
            if payload.get("state") in ("abandoned", "error"):
                self.errors.append(f"{topic}: {str(payload.get('error_msg'))[:200]}")
            if topic == "connections" and payload.get("state") in ("active", "completed"):
                self.connected.setdefault(payload.get("invitation_msg_id", ""), (now, payload.get("connection_id", "")))
            elif topic == "issue_credential_v2_0" and payload.get("state") == "done" and payload.get("role") == "issuer":
                self.issued.setdefault(payload.get("cred_ex_id", ""), now)
                self.issued_on.setdefault(payload.get("connection_id", ""), now)
            self.changed.notify_all()
        target = self.forward_to
        if target:
            if getattr(self._local, "target", None) != target:
                self._local.target, self._local.http = target, Browser(target)
            answer = self._local.http.request("POST", f"/webhooks/acapy{path}", body=body, headers={
                "x-api-key": key, "Content-Type": "application/json", "X-Forwarded-Proto": "https"})
            return answer.status_code
        return 200

    def wait(self, found: Any, what: str) -> Any:
        deadline = time.monotonic() + FLOW_TIMEOUT
        with self.changed:
            while (value := found()) is None:
                if not self.changed.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(f"no webhook for {what} within {FLOW_TIMEOUT:.0f} s")
            return value


# --- The agents ----------------------------------------------------------------------------------


class Agents:
    def __init__(self, workdir: Path, relay: Relay):
        executable = ensure_acapy()
        workdir.mkdir(parents=True, exist_ok=True)
        self.issuer = Agent(executable, "issuer", workdir, webhook_url=relay.webhook_url)
        self.holders = [Agent(executable, f"wallet{n}", workdir, extra_args=HOLDER_FLAGS) for n in range(WALLETS)]
        self.did = ""

    @property
    def all(self) -> list[Agent]:
        return [self.issuer, *self.holders]

    def start(self) -> None:
        with ThreadPoolExecutor(len(self.all)) as pool:
            list(pool.map(Agent.start, self.all))
        self.did = self.issuer.post("/wallet/did/create", {"method": "key", "options": {"key_type": "ed25519"}})[
            "result"]["did"]

    def stop(self) -> None:
        for agent in self.all:
            agent.stop()

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.issuer.process.pid) if self.issuer.process else 0.0

    def wallets_cpu_seconds(self) -> float:
        return process_cpu_seconds(*(holder.process.pid for holder in self.holders if holder.process))

    def loop_seconds(self) -> tuple[float, float]:
        """How long the issuer's event loop has run, and waited for a core, so far."""
        return main_thread_schedstat(self.issuer.process.pid) if self.issuer.process else (0.0, 0.0)

    def offer_body(self, connection_id: str) -> dict[str, Any]:
        """What the portal sends (onboarding/issuers/acapy.py), with the default settings."""
        credential = {
            "@context": ["https://www.w3.org/2018/credentials/v1", {"@vocab": "https://registerft.example/vocab#"}],
            "id": f"urn:uuid:{uuid.uuid4()}",
            "type": ["VerifiableCredential", "RegisterftCredential"],
            "issuer": self.did,
            "issuanceDate": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "credentialSubject": {"first_name": "Bench", "last_name": "Visitor", "institution": "Loopback"},
        }
        return {"connection_id": connection_id, "auto_remove": False,
                "filter": {"ld_proof": {"credential": credential, "options": {"proofType": "Ed25519Signature2020"}}}}


# --- One round -------------------------------------------------------------------------------------


@dataclass
class Round:
    kind: str  # "bare" or "portal"
    crowd: int
    concurrency: int = 0
    started: float = 0.0
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
        """For each visitor let in after waiting: the time since the last wallet connected (which
        frees a place), as an estimate of how soon a freed place is taken."""
        freed = sorted(self.connected)
        delays = []
        for arrived, admitted in zip(self.arrivals, self.admitted):
            before = [moment for moment in freed if moment < admitted]
            if admitted - arrived > 0.05 and before:
                delays.append(admitted - before[-1])
        return delays


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main_thread_schedstat(pid: int) -> tuple[float, float]:
    """Seconds the process's main thread has run, and has been ready to run without a core (its
    schedstat). In ACA-Py that thread runs the event loop, which does the flows' work."""
    try:
        ran, waited = Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()[:2]
        return int(ran) / 1e9, int(waited) / 1e9
    except (OSError, ValueError):
        return 0.0, 0.0


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
            result.arrivals.append(arrived)
            result.admitted.append(arrived)
            result.connected.append(connected_at)
            result.offered.append(offered_at)
            result.finished.append(done)

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
    agent_before = agents.cpu_seconds()
    wallets_before = agents.wallets_cpu_seconds()
    loop_before = agents.loop_seconds()
    busy_before, total_before = machine_ticks()
    webhooks_before = relay.received
    bench_before = sum(os.times()[:2])
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

    def page_then_poll(self, path: str, target: str) -> None:
        """Open ``path`` and poll as its page does until it moves on to ``target`` (a page that
        redirects there at once needs no poll)."""
        page = self.get(path)
        if page.status_code == 302 and urlsplit(page.headers["location"]).path.rstrip("/") == target.rstrip("/"):
            return
        if page.status_code != 200:
            raise RuntimeError(f"{path} answered {page.status_code}")
        self.poll_until(page.text, target)

    def poll_until(self, page: str, target: str, *, timeout: float = FLOW_TIMEOUT) -> None:
        found = POLL_URL.search(page)
        if found is None:
            raise RuntimeError(f"a page without a status to poll on the way to {target}")
        url = found.group(1)
        interval = int(POLL_INTERVAL.search(page).group(1)) / 1000
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(interval)
            data = self.get(url, Accept="application/json").json()
            if data.get("state") == "failed":
                raise RuntimeError(f"{url} failed: {data.get('message')}")
            if data.get("next"):
                if data["next"] != target:
                    raise RuntimeError(f"{url} moved to {data['next']}, not {target}")
                return
            if data.get("poll_after_ms"):
                interval = int(data["poll_after_ms"]) / 1000
        raise TimeoutError(f"{url} did not move on in time")

    def through_the_line(self) -> tuple[str, str]:
        """The invitation link, and the start page that shows it."""
        while True:
            page = self.get("/")
            if page.status_code != 200:
                raise RuntimeError(f"/ answered {page.status_code}")
            link = SHORT_LINK.search(page.text)
            if link:
                return link.group(1), page.text
            self.waited = True
            self.poll_until(page.text, "/", timeout=LINE_TIMEOUT)

    def scan(self, link: str) -> str:
        answer = self.get(urlsplit(link).path, Accept="application/json")
        invitation = answer.json()
        self.holder.post("/out-of-band/receive-invitation", invitation, auto_accept="true")
        return invitation["@id"]

    def details(self) -> None:
        form = self.get("/name")
        token = CSRF_FIELD.search(form.text)
        if form.status_code != 200 or token is None:
            raise RuntimeError(f"GET /name answered {form.status_code} without a form")
        token = token.group(1)
        sent = self.send("POST", "/name", Origin=self.origin,
                         data={"first_name": "Bench", "last_name": "Visitor", "institution": "Loopback",
                               "csrfmiddlewaretoken": token})
        if sent.status_code != 302:
            raise RuntimeError(f"POST /name answered {sent.status_code}")


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
            visitor.poll_until(start_page, "/name")
            connected_at, connection_id = relay.wait(lambda: relay.connected.get(invitation_id), "a connection")
            offered = time.monotonic()
            visitor.details()
            visitor.page_then_poll("/loading/", "/success")
            if visitor.get("/success").status_code != 200:
                raise RuntimeError("no success page")
            seen = time.monotonic()
            done = relay.wait(lambda: relay.issued_on.get(connection_id), "a credential")
        except (BrowserError, requests.RequestException, RuntimeError, TimeoutError, ValueError, KeyError) as err:
            with lock:
                result.failures.append(repr(err)[:200])
            return
        with lock:
            result.arrivals.append(arrived)
            result.admitted.append(admitted)
            result.connected.append(connected_at)
            result.offered.append(offered)
            result.finished.append(done)
            result.seen.append(seen)
            result.waited += visitor.waited

    result_start = [0.0]

    def run() -> None:
        result_start[0] = result.started
        run_threads(visit, crowd, list(range(crowd)))

    relay.forward_to = portal.base_url
    try:
        measured(result, agents, relay, portal, run)
    finally:
        relay.forward_to = ""
    with open(portal.workdir / "gunicorn.log", "rb") as handle:
        handle.seek(log_offset)
        for match in ISSUER_CALL.finditer(handle.read().decode(errors="replace")):
            result.calls_ms.append(int(match.group(3)))
            result.failed_calls += match.group(2) != "ok"
    return result


# --- The agent slowed down --------------------------------------------------------------------------


@dataclass
class Slowed:
    """A portal round while another process keeps one core busy, and the line's limit meanwhile."""

    round: Round
    limits: list[float]
    ceiling: int


def read_line_limit(portal: Portal) -> float | None:
    try:
        text = requests.get(portal.base_url + "/metrics", timeout=10, headers={
            "X-Forwarded-Proto": "https", "Authorization": f"Bearer {portal.env['REGISTERFT_METRICS_TOKEN']}"}).text
    except requests.RequestException:
        return None
    found = re.search(r"^registerft_line_limit (\S+)", text, re.M)
    return float(found.group(1)) if found else None


def slowed_round(agents: Agents, relay: Relay, portal: Portal, *, crowd: int) -> Slowed:
    """``crowd`` visitors through the portal while a process spins on one core (another service on
    the machine): the agent's calls slow down, and the line's limit must come down by itself."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # noqa: S603 - our own interpreter
    limits: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            limit = read_line_limit(portal)
            if limit is not None:
                limits.append(limit)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = portal_round(agents, relay, portal, crowd=crowd)
    finally:
        done.set()
        hog.kill()
        hog.wait()
        sampler.join(5)
    return Slowed(result, limits, int(portal.env.get("REGISTERFT_MAX_IN_PROGRESS") or DEFAULT_CEILING))


# --- A thousand waiting ---------------------------------------------------------------------------


@dataclass
class LineCost:
    waiting: int
    seconds: float
    polls: int
    cores: float  # the portal's CPU time per second of the measurement
    front_p99_ms: float
    front_polls: int


def line_cost(portal: Portal, *, crowd: int = LINE_CROWD, seconds: float = LINE_SECONDS) -> LineCost:
    """``crowd`` visitors wait in line behind places all held (visitors whose wallet never scans the
    QR code), each polling as the page says; the portal's CPU time per second, and the latency of
    the line's status for the first 20 in line."""
    local = threading.local()

    def browser() -> Browser:
        if not hasattr(local, "browser"):
            local.browser = Browser(portal.base_url)
        return local.browser

    def arrive(_number: int) -> tuple[EventVisitor, float] | None:
        visitor = EventVisitor(portal, None, browser())
        page = visitor.get("/")
        interval = POLL_INTERVAL.search(page.text)
        return (visitor, int(interval.group(1)) / 1000) if interval and "data-queue-position" in page.text else None

    with ThreadPoolExecutor(8) as pool:
        for _ in range(40):  # take every place (the limit is at most the ceiling, far below 40)
            if pool.submit(arrive, 0).result() is not None:
                break
        waiting = [found for found in pool.map(arrive, range(crowd)) if found is not None]
    due = [(time.monotonic() + interval * random.random(), number) for number, (_v, interval) in enumerate(waiting)]
    heapq.heapify(due)
    lock = threading.Lock()
    front: list[float] = []
    polls = [0]
    end = time.monotonic() + seconds

    def poll_loop() -> None:
        while True:
            with lock:
                if not due or due[0][0] > end:
                    return
                at, number = heapq.heappop(due)
            time.sleep(max(0.0, at - time.monotonic()))
            visitor, interval = waiting[number]
            visitor.browser = browser()  # a connection is not shared between threads
            started = time.monotonic()
            try:
                data = visitor.get("/queue/status", Accept="application/json").json()
            except (BrowserError, ValueError):
                data = {}
            took = time.monotonic() - started
            with lock:
                polls[0] += 1
                if 0 < data.get("position", 0) <= 20:
                    front.append(took)
                if data.get("state") == "waiting":
                    heapq.heappush(due, (at + int(data.get("poll_after_ms") or interval * 1000) / 1000, number))

    cpu_before, started = portal.worker_cpu_seconds(), time.monotonic()
    run_threads(poll_loop, 24)
    elapsed = time.monotonic() - started
    cores = (portal.worker_cpu_seconds() - cpu_before) / elapsed
    return LineCost(len(waiting), elapsed, polls[0], cores, percentile(front, 0.99) * 1000, len(front))


# --- The scenario ----------------------------------------------------------------------------------


@dataclass
class EventResult:
    sweep: dict[int, float]
    concurrency: int
    rounds: list[Round]
    rss: list[float]
    metrics: str
    line: LineCost
    seconds: float
    topics: dict[str, float] = field(default_factory=dict)  # webhooks per credential, by topic and state
    slowed: Slowed | None = None
    agent_errors: list[str] = field(default_factory=list)  # why the agent gave up a connection or exchange


def run_event(workdir: Path) -> EventResult:
    started = time.monotonic()
    secret = secrets.token_hex(24)
    metrics_token = secrets.token_urlsafe(24)
    relay = Relay(secret)
    relay.start()
    agents = Agents(workdir / "agents", relay)
    portal = Portal(workdir=workdir / "portal", issuer_env={})
    try:
        log(f"starting the issuer agent and {WALLETS} wallets (ACA-Py)")
        agents.start()
        portal.env.update({
            "REGISTERFT_ISSUERS": "acapy",
            "ACAPY_ADMIN_URL": agents.issuer.admin_url,
            "ACAPY_ADMIN_API_KEY": agents.issuer.api_key,
            "ACAPY_WEBHOOK_SECRET": secret,
            "ACAPY_ISSUER_DID": agents.did,
            "REGISTERFT_ISSUER_TIMEOUT": str(ISSUER_TIMEOUT),
            "REGISTERFT_METRICS": "1",
            "REGISTERFT_METRICS_TOKEN": metrics_token,
            "PROMETHEUS_MULTIPROC_DIR": str(workdir / "portal" / "prometheus"),
            "BENCH_CPU_DIR": str(workdir / "portal" / "cpu"),
        })
        (workdir / "portal" / "prometheus").mkdir(parents=True)
        (workdir / "portal" / "cpu").mkdir(parents=True)
        portal.prepare()
        portal.start()
        sweep: dict[int, float] = {}
        for concurrency in SWEEP if ROUNDS else ():
            sweep[concurrency] = bare_round(agents, relay, crowd=SWEEP_FLOWS, concurrency=concurrency).rate
            log(f"bare sweep: concurrency {concurrency}: {sweep[concurrency]:.2f} credentials/s")
        best = max(sweep, key=sweep.__getitem__, default=0)
        rounds: list[Round] = []
        for number in range(1, ROUNDS + 1):
            for crowd in CROWDS:
                for kind in ("bare", "portal"):
                    if kind == "bare":
                        done = bare_round(agents, relay, crowd=crowd, concurrency=best)
                    else:
                        done = portal_round(agents, relay, portal, crowd=crowd)
                    rounds.append(done)
                    log(f"round {number} {kind:6} {crowd:3} visitors: {done.done} issued, {done.rate:.2f}/s, "
                        f"p95 {percentile(done.latencies(), 0.95):.1f} s, {len(done.failures)} failed, "
                        f"machine {done.machine_busy:.0%} busy, "
                        f"portal {done.portal_cpu:.1f} s, wallets {done.wallets_cpu:.1f} s, agent {done.agent_cpu:.1f} s (its event loop ran {done.loop_ran:.1f} s and waited {done.loop_waited:.1f} s for a core), bench {done.bench_cpu:.1f} s of CPU")
                    time.sleep(1)
        metrics = requests.get(portal.base_url + "/metrics", timeout=10, headers={
            "X-Forwarded-Proto": "https", "Authorization": f"Bearer {metrics_token}"}).text
        slowed = None
        if ROUNDS:
            log(f"the agent slowed down: {SLOWED_CROWD} visitors while another process keeps one core busy")
            slowed = slowed_round(agents, relay, portal, crowd=SLOWED_CROWD)
            log(f"slowed: {slowed.round.done} issued, {slowed.round.rate:.2f}/s, line limit "
                f"{min(slowed.limits, default=0):.0f} to {max(slowed.limits, default=0):.0f}")
        log(f"{LINE_CROWD} visitors waiting in line, polling as the page says, for {LINE_SECONDS:.0f} s")
        line = line_cost(portal)
        log(f"{line.waiting} waiting: {line.polls / line.seconds:.0f} polls/s, portal {line.cores:.2f} cores, "
            f"status p99 for the first 20: {line.front_p99_ms:.0f} ms")
        rss = portal.worker_rss_mb()
    except BaseException:
        log("the event scenario stopped; the end of gunicorn's log:")
        log_path = portal.workdir / "gunicorn.log"
        if log_path.exists():
            print("\n".join(log_path.read_text(errors="replace").splitlines()[-30:]))
        raise
    finally:
        portal.stop()
        agents.stop()
        relay.stop()
    issued = max(1, len(relay.issued))
    topics = {name: count / issued for name, count in relay.topics.most_common()}
    return EventResult(sweep, best, rounds, rss, metrics, line, time.monotonic() - started, topics, slowed,
                       list(relay.errors))


# --- The report ------------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def event_table(result: EventResult) -> str:
    lines = [
        f"Bare sweep (credentials/s by concurrency, {SWEEP_FLOWS} flows each): "
        + ", ".join(f"{c}: {rate:.2f}" for c, rate in result.sweep.items()) + f"; bare rounds at {result.concurrency}.",
        "",
        "| visitors | round | bare /s | portal /s | share | p50 / p95 to credential | waited (median / max s) "
        "| while waiting: agent idle, new flows + offers at the agent | freed place taken after (median) | portal CPU ms per registration (pages / polls / webhooks / server) "
        "| agent CPU ms | portal / agent | machine busy (bare / portal) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for crowd in CROWDS:
        bare = [r for r in result.rounds if r.kind == "bare" and r.crowd == crowd]
        portal = [r for r in result.rounds if r.kind == "portal" and r.crowd == crowd]
        for number, (b, p) in enumerate(zip(bare, portal), start=1):
            lat = p.latencies()
            idle, flows, offers = p.while_waiting()
            waits = [a2 - a1 for a1, a2 in zip(p.arrivals, p.admitted)]
            n = max(1, p.done)
            kinds = {kind: p.by_kind.get(kind, (0.0, 0))[0] * 1000 / n for kind in ("pages", "polls", "webhooks")}
            server = p.portal_cpu * 1000 / n - sum(kinds.values())
            portal_ms, agent_ms = p.portal_cpu * 1000 / n, p.agent_cpu * 1000 / n
            lines.append(
                f"| {crowd} | {number} | {b.rate:.2f} | {p.rate:.2f} | {p.rate / b.rate if b.rate else 0:.0%} "
                f"| {percentile(lat, 0.5):.1f} / {percentile(lat, 0.95):.1f} s "
                f"| {p.waited} ({_median(waits):.1f} / {max(waits, default=0):.1f}) | {idle:.1f} s, {flows:.1f} + {offers:.1f} "
                f"| {_median(p.refill_delays()) * 1000:.0f} ms "
                f"| {portal_ms:.0f} ({kinds['pages']:.0f} / {kinds['polls']:.0f} / {kinds['webhooks']:.0f} / {server:.0f}) "
                f"| {agent_ms:.0f} | {portal_ms / agent_ms if agent_ms else 0:.0%} "
                f"| {b.machine_busy:.0%} / {p.machine_busy:.0%} |"
            )
    lines += ["", *cpu_per_credential(result.rounds)]
    portal_rounds = [r for r in result.rounds if r.kind == "portal"]
    requests_by_kind = {kind: sum(r.by_kind.get(kind, (0, 0))[1] for r in portal_rounds) for kind in
                        ("pages", "polls", "webhooks")}
    registrations = max(1, sum(r.done for r in portal_rounds))
    lines += ["", "Requests per registration through the portal: " + ", ".join(
        f"{kind} {count / registrations:.1f}" for kind, count in requests_by_kind.items()) + "."]
    lines.append("The issuer's webhooks per credential, by topic and state: " + ", ".join(
        f"{name.strip()} {count:.1f}" for name, count in result.topics.items()) + ".")
    limit = re.search(r"^registerft_line_limit (\S+)", result.metrics, re.M)
    if limit:
        lines.append(f"The line's limit at the end (/metrics): {float(limit.group(1)):.1f}.")
    slowed = result.slowed
    if slowed is not None:
        calls = [ms / 1000 for ms in slowed.round.calls_ms]
        lines.append(
            f"The agent slowed down (another process spinning on one core), {slowed.round.crowd} visitors: "
            f"{slowed.round.done} issued at {slowed.round.rate:.2f}/s, {len(slowed.round.failures)} failed, "
            f"{slowed.round.failed_calls} failed agent calls, calls p99 {percentile(calls, 0.99) * 1000:.0f} ms; "
            f"the line's limit (ceiling {slowed.ceiling}) sampled twice a second: lowest "
            f"{min(slowed.limits, default=0):.0f}, at the end {slowed.limits[-1] if slowed.limits else 0:.0f}.")
    line = result.line
    lines.append(f"{line.waiting} visitors waiting in line for {line.seconds:.0f} s: {line.polls / line.seconds:.0f} "
                 f"polls/s, the portal used {line.cores:.2f} of a core; the line's status for the first 20 in line: "
                 f"p99 {line.front_p99_ms:.0f} ms over {line.front_polls} polls.")
    lines.append(f"gunicorn worker RSS after the scenario: {', '.join(f'{size:.0f} MB' for size in result.rss)}; "
                 f"the scenario took {result.seconds:.0f} s.")
    return "\n".join(lines)


def cpu_per_credential(rounds: list[Round]) -> list[str]:
    """The whole machine's CPU per credential in both kinds of round, by process. When the machine
    rather than the agent is the limit (the wallets run on the same cores), the portal's rate can
    be at most about the bare rounds' CPU per credential over the portal rounds'."""
    lines = []
    for crowd in CROWDS:
        parts: dict[str, dict[str, float]] = {}
        for kind in ("bare", "portal"):
            chosen = [r for r in rounds if r.kind == kind and r.crowd == crowd and r.done]
            if not chosen:
                return []
            per = {name: _median([getattr(r, field) * 1000 / r.done for r in chosen]) for name, field in (
                ("all", "machine_cpu"), ("agent", "agent_cpu"), ("wallets", "wallets_cpu"), ("portal", "portal_cpu"),
                ("benchmark", "bench_cpu"))}
            parts[kind] = per
        bare, portal = parts["bare"], parts["portal"]
        lines.append(
            f"CPU per credential, whole machine, {crowd} visitors (medians): bare {bare['all']:.0f} ms (agent "
            f"{bare['agent']:.0f}, wallets {bare['wallets']:.0f}, benchmark {bare['benchmark']:.0f}); "
            f"portal {portal['all']:.0f} ms (agent {portal['agent']:.0f}, wallets {portal['wallets']:.0f}, portal "
            f"{portal['portal']:.0f}, benchmark {portal['benchmark']:.0f}): with the machine as "
            f"busy, the CPU leaves the portal {bare['all'] / portal['all'] if portal['all'] else 0:.0%} of the bare rate.")
    return lines


def event_targets(result: EventResult) -> list[tuple[str, bool, str]]:
    checks = []
    for crowd in CROWDS:
        bare = [r.rate for r in result.rounds if r.kind == "bare" and r.crowd == crowd]
        portal = [r.rate for r in result.rounds if r.kind == "portal" and r.crowd == crowd]
        share = _median(portal) / _median(bare) if bare and _median(bare) else 0.0
        checks.append((f"event, {crowd} visitors: >= {MIN_SHARE_OF_BARE:.0%} of the bare rate (medians)",
                       share >= MIN_SHARE_OF_BARE,
                       f"{share:.0%}: portal {_median(portal):.2f}/s, bare {_median(bare):.2f}/s"))
    portal_rounds = [r for r in result.rounds if r.kind == "portal"]
    shares = [r.portal_cpu / r.agent_cpu for r in portal_rounds if r.agent_cpu]
    checks.append((f"event: portal CPU per registration <= {MAX_CPU_SHARE_OF_AGENT:.0%} of the agent's (median)",
                   bool(shares) and _median(shares) <= MAX_CPU_SHARE_OF_AGENT,
                   f"{_median(shares):.0%} (rounds {', '.join(f'{s:.0%}' for s in shares)})"))
    failures = sum(len(r.failures) + r.failed_calls for r in result.rounds)
    issued = all(r.done == r.crowd for r in result.rounds)
    examples = [f for r in result.rounds for f in r.failures][:3]
    checks.append(("event: every visitor and flow issued, no failed agent call", failures == 0 and issued,
                   f"{failures} failures{': ' + '; '.join(examples) if examples else ''}"
                   + (f"; the agent gave up: {'; '.join(result.agent_errors[:3])}" if result.agent_errors else "")))
    calls = [ms / 1000 for r in portal_rounds for ms in r.calls_ms]
    p99 = percentile(calls, 0.99)
    checks.append((f"event: the portal's agent calls p99 < {MAX_CALL_P99_S:.0f} s, none over the issuer timeout",
                   bool(calls) and p99 < MAX_CALL_P99_S and max(calls) < ISSUER_TIMEOUT,
                   f"p99 {p99 * 1000:.0f} ms, slowest {max(calls, default=0) * 1000:.0f} ms, {len(calls)} calls"))
    slowed = result.slowed
    if slowed is not None:
        lowest = min(slowed.limits, default=slowed.ceiling)
        failed = len(slowed.round.failures) + slowed.round.failed_calls
        checks.append(("event: with the agent slowed down the line's limit comes down by itself and nothing fails",
                       lowest < slowed.ceiling and failed == 0 and slowed.round.done == slowed.round.crowd,
                       f"lowest limit {lowest:.0f} of {slowed.ceiling}, {slowed.round.done}/{slowed.round.crowd} issued, "
                       f"{failed} failures"))
    line = result.line
    checks.append((f"event: {LINE_CROWD:,} waiting cost the portal <= {MAX_LINE_CORES} of a core",
                   line.waiting >= LINE_CROWD * 0.99 and line.cores <= MAX_LINE_CORES,
                   f"{line.cores:.2f} of a core, {line.polls / line.seconds:.0f} polls/s, {line.waiting} waiting"))
    checks.append((f"event: the line's status p99 < {MAX_FRONT_P99_MS:.0f} ms for the first 20",
                   line.front_polls > 0 and line.front_p99_ms < MAX_FRONT_P99_MS,
                   f"{line.front_p99_ms:.0f} ms over {line.front_polls} polls"))
    checks.append(("event: worker RSS <= 80 MB", bool(result.rss) and max(result.rss) <= 80,
                   f"largest {max(result.rss, default=0):.0f} MB"))
    return checks
