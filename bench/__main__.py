"""`make bench`: measure the portal under gunicorn with production settings on loopback.

    .venv/bin/python -m bench [--duration 4] [--backend acapy|agent-rest] [--connections 16]

It starts a stand-in issuer (the fake agent of tests/fakes) and the portal, drives load with wrk,
prints one table and says which of the speed and memory targets are met. Every process it starts
is stopped, by process group, when it ends.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import signal
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests

from bench import door, visitors as flow
from bench.event import run_event
from bench.event_report import event_table, event_targets
from bench.portal import Portal, log
from bench.routes_report import MANY_SESSIONS, ROUNDS, ROUTES, calls_line, table, targets
from bench.wrk import Measure, require_wrk, run_wrk
from tests.fakes import FakeAgent

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
WEBHOOK_SECRET = secrets.token_urlsafe(24)
ADMIN_API_KEY = secrets.token_urlsafe(24)


def default_backend() -> str:
    """ACA-Py with webhooks once the portal has that backend; the agent REST API before."""
    return "acapy" if (ROOT / "onboarding" / "issuers" / "acapy.py").exists() else "agent-rest"


# --- The benchmark ------------------------------------------------------------------------------


class Bench:
    def __init__(self, *, wrk: str, portal: Portal, standin: FakeAgent, duration: int, connections: int):
        self.wrk = wrk
        self.portal = portal
        self.standin = standin
        self.duration = duration
        self.connections = connections
        self.results: dict[str, list[Measure]] = {key: [] for key, _label, _condition in ROUTES}
        self.workdir = portal.workdir
        self.standin_ms = 0.0

    def measure(self, key: str, path: str, *, mode: str = "plain", expect: str = "", file: Path | None = None,
                connections: int | None = None) -> Measure:
        if not self.standin.wait_idle():
            log("the stand-in's wallets still had answers to send after 60 s; measuring anyway")
        cpu_before = self.portal.worker_cpu_seconds()
        result = run_wrk(self.wrk, self.portal.base_url + path, mode=mode, expect=expect, file=file,
                         duration=self.duration, connections=connections or self.connections)
        if result.requests:
            result.cpu_ms = (self.portal.worker_cpu_seconds() - cpu_before) * 1000 / result.requests
        self.results[key].append(result)
        log(f"{key:10} {result.rps:8.1f} req/s  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:7.2f} ms"
            f"  cpu {result.cpu_ms:5.2f} ms/req  errors {result.errors} unexpected {result.bad}")
        time.sleep(1)  # let the machine settle between measurements
        return result

    def cookie_file(self, name: str, visitors: list[flow.Visitor]) -> Path:
        path = self.workdir / f"{name}.txt"
        path.write_text("".join(visitor.cookie_header + "\n" for visitor in visitors))
        return path

    def status_pair(self, suffix: str, conn_file: Path, cred_file: Path) -> None:
        self.measure("conn" + suffix, "/check_connection/status", mode="cookies", file=conn_file,
                     expect='"waiting"')
        self.measure("cred" + suffix, "/loading/status", mode="cookies", file=cred_file, expect='"waiting"')

    def name_posts(self) -> None:
        """Each POST needs its own visitor with a connected wallet: prepare more than the run
        can use, judging by the start page's speed (the same work, less the QR code), with room
        to spare: wrk's two threads each take half of them, and one may send more POSTs."""
        start_rps = max(measure.rps for measure in self.results["start"])
        count = min(1500, max(200, int(start_rps * self.duration * 1.6)))
        log(f"preparing {count} visitors with a connected wallet for POST /name")
        visitors = flow.connected(self.portal.base_url, count)
        path = self.workdir / "name.txt"
        path.write_text("".join(
            f"{visitor.cookie_header}\t{'&'.join(f'{k}={v}' for k, v in visitor.form_body().items())}\n"
            for visitor in visitors
        ))
        result = self.measure("name", "/name", mode="post", file=path, expect="loc:/loading/")
        if result.exhausted:
            result.notes.append(f"ran out of prepared visitors {result.exhausted} times: some POSTs were repeats")

    def run(self) -> dict[str, Any]:
        self.standin_ms = standin_answer_ms(self.standin)
        log(f"the stand-in issuer answers in {self.standin_ms:.1f} ms at rest (median)")
        log("preparing 5 visitors waiting for their wallet and 5 waiting for their credential")
        waiting_conn = flow.invited(self.portal.base_url, 5)
        waiting_cred = flow.offered(self.portal.base_url, 5)
        keep = {visitor.cookies["sessionid"] for visitor in waiting_conn + waiting_cred}
        conn_file = self.cookie_file("waiting_connection", waiting_conn)
        cred_file = self.cookie_file("waiting_credential", waiting_cred)
        for round_ in range(1, ROUNDS + 1):
            log(f"round {round_} of {ROUNDS}")
            self.portal.keep_sessions(keep)
            self.measure("minimal", "/bench/minimal", expect="ok")
            self.standin.latency = 0.0
            self.status_pair("", conn_file, cred_file)
            self.standin.latency = 0.1
            self.status_pair("_slow", conn_file, cred_file)
            self.standin.latency = 0.0
            self.measure("start", "/", expect="qr-svg")
            self.name_posts()
        calls = registration_costs(self.portal, self.standin)
        # With few and with many session files, alternately: the folders trade places by renaming,
        # so that a slow spell of a shared machine falls on both alike, not on one of the two.
        log(f"preparing a second session folder of {MANY_SESSIONS:,} files")
        crowded = self.workdir / "sessions_crowded"
        self.portal.keep_sessions(keep)
        self.portal.crowded_sessions(crowded, keep=keep, total=MANY_SESSIONS)
        for _round in range(ROUNDS):
            self.status_pair("_few", conn_file, cred_file)
            self.portal.swap_sessions(crowded)
            self.status_pair("_many", conn_file, cred_file)
            self.portal.swap_sessions(crowded)
        return calls


def standin_answer_ms(standin: FakeAgent, *, calls: int = 20) -> float:
    """The stand-in's own answer time at rest, the median of ``calls`` calls: what "issuer 0 ms"
    stands for in the table."""
    times = []
    with requests.Session() as session:
        for _ in range(calls):
            started = time.perf_counter()
            session.get(standin.base_url + "/status", headers={"X-API-Key": ADMIN_API_KEY}, timeout=5).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def registration_costs(portal: Portal, standin: FakeAgent, *, count: int = 20) -> dict[str, Any]:
    """Walk ``count`` visitors through the whole flow at once, polling every 0.2 s, and count the
    issuer's calls."""
    since = time.monotonic()
    log(f"{count} whole registrations, polling every 0.2 s")
    visitors = [flow.Visitor(portal.base_url) for _ in range(count)]
    seconds = flow.each(lambda visitor: flow.whole_flow(visitor, poll_every=0.2), visitors, threads=count)
    time.sleep(0.5)
    summary = standin.summary(since=since)
    summary["polls_per_registration"] = sum(visitor.polls for visitor in visitors) / count
    summary["seconds_per_registration"] = sum(seconds) / count
    return summary


# --- Main ---------------------------------------------------------------------------------------


def calls_with(backend: str, workdir: Path) -> dict[str, Any]:
    """Issuer calls per registration with another backend: a second portal, briefly."""
    standin, portal = start_pair(backend, workdir)
    try:
        return registration_costs(portal, standin)
    finally:
        portal.stop()
        standin.stop()


def standin_env(backend: str, standin: FakeAgent) -> dict[str, str]:
    return {
        "REGISTERFT_ISSUERS": backend,
        "AGENT_REST_CONNECTION_URL": standin.base_url,
        "AGENT_REST_ISSUER_URL": standin.base_url,
        "AGENT_REST_CREDENTIAL_DEFINITION_ID": "bench:3:CL:1:registerft",
        "AGENT_REST_API_KEY": ADMIN_API_KEY,
        "ACAPY_ADMIN_URL": standin.base_url,
        "ACAPY_ADMIN_API_KEY": ADMIN_API_KEY,
        "ACAPY_WEBHOOK_SECRET": WEBHOOK_SECRET,
        # The line at the door (admission) spares a real agent that stalls past a few flows at
        # once; the stand-in does not stall, and `/` is measured as a new visitor who gets the
        # QR code, as the target says: no line here.
        "REGISTERFT_MAX_IN_PROGRESS": "0",
    }


def start_pair(backend: str, workdir: Path) -> tuple[FakeAgent, Portal]:
    standin = FakeAgent(webhook_secret=WEBHOOK_SECRET, api_key=ADMIN_API_KEY,
                        webhook_headers={"X-Forwarded-Proto": "https"})
    standin.start()
    portal = Portal(workdir=workdir, issuer_env=standin_env(backend, standin))
    if backend == "acapy":
        standin.webhook_url = f"{portal.base_url}/webhooks/acapy"
    try:
        portal.prepare()
        portal.start()
    except BaseException:
        portal.stop()
        standin.stop()
        raise
    return standin, portal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("acapy", "agent-rest"), default=default_backend(),
                        help="the issuer backend the stand-in plays (default: %(default)s)")
    parser.add_argument("--duration", type=int, default=int(os.environ.get("BENCH_DURATION", "4")),
                        help="seconds per measurement (default: %(default)s)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default: %(default)s)")
    parser.add_argument("--only", choices=("routes", "event"), default="",
                        help="only the routes (wrk, stand-in issuer) or only the event scenario (real ACA-Py agents)")
    options = parser.parse_args(argv)
    # A SIGTERM (a CI runner's timeout) unwinds like Ctrl-C, so that the finally blocks stop gunicorn.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    started = time.monotonic()
    checks: list[tuple[str, bool, str]] = []
    with tempfile.TemporaryDirectory(prefix="registerft-bench-") as tmp:
        workdir = Path(tmp)
        if options.only != "event":
            checks += routes(options, workdir)
        if options.only != "routes":
            log("the event scenario: real ACA-Py agents, through the portal and bare, rounds interleaved")
            result = run_event(workdir / "event")
            print()
            print(f"registerft event scenario, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
                  f"{platform.platform()}, machine load before the run {os.getloadavg()[0]:.2f}")
            print()
            print(event_table(result))
            checks += event_targets(result)
    print()
    failed = 0
    for name, met, detail in checks:
        failed += not met
        print(f"- [{'x' if met else ' '}] {name}: {detail}")
    print(f"\n{'all targets met' if not failed else f'{failed} target(s) missed'} in {time.monotonic() - started:.0f} s")
    return 1 if failed else 0


def routes(options: argparse.Namespace, workdir: Path) -> list[tuple[str, bool, str]]:
    """The routes one by one under wrk, with the stand-in issuer; their table, and their checks."""
    wrk = require_wrk()
    log(f"portal under gunicorn, production settings, stand-in issuer shaped as {options.backend}")
    standin, portal = start_pair(options.backend, workdir / "main")
    try:
        bench = Bench(wrk=wrk, portal=portal, standin=standin, duration=options.duration,
                      connections=options.connections)
        calls = bench.run()
        rss = portal.worker_rss_mb()
    except BaseException:
        log("the benchmark stopped; the end of gunicorn's log:")
        lines = (portal.workdir / "gunicorn.log").read_text(errors="replace").splitlines()
        print("\n".join(lines[-30:]), file=sys.stderr)
        raise
    finally:
        portal.stop()
        standin.stop()
    calls_by_backend = {options.backend: calls}
    other = "agent-rest" if options.backend == "acapy" else ("acapy" if default_backend() == "acapy" else "")
    if other:
        log(f"issuer calls per registration with {other}")
        calls_by_backend[other] = calls_with(other, workdir / "other")
    print()
    print(f"registerft benchmark, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
          f"{options.duration} s per measurement, {options.connections} connections, issuer stand-in: "
          f"{options.backend}")
    print()
    print(table(bench.results, calls, rss, options.backend, bench.standin_ms))
    for backend, other_calls in calls_by_backend.items():
        if backend != options.backend:
            print(calls_line(other_calls, backend))
    print(door.report())
    return targets(bench.results, calls_by_backend, rss)


if __name__ == "__main__":
    sys.exit(main())
