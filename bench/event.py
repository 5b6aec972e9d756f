"""The event scenario of `make bench`: the portal with real agents against the same agents alone.

One real ACA-Py issuer and a few holder agents as the visitors' wallets. Each round
is either *bare* (the benchmark drives connect-and-issue flows at the agents' admin APIs itself, at
a fixed concurrency, as an application without the portal would) or *portal* (visitors arrive
within 5 s at the portal under gunicorn with production settings and the default line, and poll
like the browser). Rounds are interleaved, bare first, except in the last round: the agent grows
slower with every credential, so each portal round is compared with the bare rate at its age,
interpolated between the bare rounds of its crowd before and after it. Bare runs at the best
concurrency of a short sweep. The issuer's events reach a relay in this process, which notes when
each connection and credential is done (for both kinds of round); in portal rounds they reach the
portal as well, over the agent's websocket (manage.py acapy_events, the default) or as webhooks
passed on by the relay (BENCH_EVENT_DELIVERY=webhooks).

The agents and the relay are in bench/agents.py, one round of either kind in bench/rounds.py, the
table and the targets in bench/event_report.py.

    .venv/bin/python -m bench --only event
"""

from __future__ import annotations

import heapq
import os
import random
import re
import secrets
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench.agents import WALLETS, Agents, Relay
from bench.browser import Browser, BrowserError
from bench.portal import Portal, log
from bench.rounds import POLL_INTERVAL, EventVisitor, Round, bare_round, percentile, portal_round, run_threads

# BENCH_EVENT_CROWDS ("60,200") and BENCH_EVENT_ROUNDS (3) make a shorter run for trying things out.
CROWDS = tuple(int(n) for n in os.environ.get("BENCH_EVENT_CROWDS", "60,200").split(","))
ROUNDS = int(os.environ.get("BENCH_EVENT_ROUNDS", "3"))
SWEEP = (3, 4, 5, 6)
SWEEP_FLOWS = 20
SLOWED_CROWD = 60
DEFAULT_CEILING = 24  # REGISTERFT_MAX_IN_PROGRESS's default (docs/settings.md)
LINE_CROWD = 1000
LINE_SECONDS = 20.0
ISSUER_TIMEOUT = 5.0
# How the issuer's events reach the portal (bench/agents.py): "stream" (its websocket, read by
# manage.py acapy_events) or "webhooks" (posted to the portal).
DELIVERY = os.environ.get("BENCH_EVENT_DELIVERY", "stream")
if DELIVERY not in ("stream", "webhooks"):
    raise SystemExit(f"BENCH_EVENT_DELIVERY must be stream or webhooks, not {DELIVERY!r}")


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
    relay = Relay(secret, stream=DELIVERY == "stream")
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
            # The last round runs portal first: every portal round then has a bare round of its
            # crowd before and after it, between which the bare rate at its age is interpolated.
            order = ("portal", "bare") if number == ROUNDS > 1 else ("bare", "portal")
            for crowd in CROWDS:
                for kind in order:
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
        relay.stop()
        portal.stop()
        agents.stop()
    issued = max(1, len(relay.issued))
    topics = {name: count / issued for name, count in relay.topics.most_common()}
    return EventResult(sweep, best, rounds, rss, metrics, line, time.monotonic() - started, topics, slowed,
                       list(relay.errors))
