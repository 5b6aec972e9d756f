"""wrk, the load generator of `make bench`'s routes: found (or installed with apt-get as root on
Debian), run with bench/lua/visitors.lua, and its output read."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from bench.portal import log

LUA = Path(__file__).resolve().parent / "lua" / "visitors.lua"


def require_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and Path("/etc/debian_version").exists():
        log("installing wrk (Debian package) with apt-get")
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env={**os.environ,
                       "DEBIAN_FRONTEND": "noninteractive"})
        found = shutil.which("wrk")
        if found:
            return found
    raise SystemExit(
        "make bench needs the load generator wrk: on Debian/Ubuntu `sudo apt-get install wrk`, "
        "on macOS `brew install wrk`, or build it from its source (github.com/wg/wrk)."
    )


@dataclass
class Measure:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    bad: int
    exhausted: int = 0
    cpu_ms: float = float("nan")  # the portal's CPU time per request: steadier than req/s on a busy machine
    notes: list[str] = field(default_factory=list)


UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _latency(output: str, percentile: str) -> float:
    found = re.search(rf"^\s*{percentile}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    return float(found.group(1)) * UNITS[found.group(2)] if found else float("nan")


def run_wrk(wrk: str, url: str, *, mode: str, expect: str, file: Path | None = None, duration: int,
            connections: int, threads: int = 2) -> Measure:
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s",
               "-s", str(LUA), url, "--", mode, str(file or "-"), expect, str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 30, start_new_session=True)
    output = done.stdout
    if done.returncode != 0 or "Requests/sec" not in output:
        raise SystemExit(f"wrk failed: {done.stderr or output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    requests_done = int(re.search(r"(\d+) requests in", output).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, sockets.groups())) if sockets else 0)
    marks = re.search(r"BENCH bad=(\d+) exhausted=(\d+)", output)
    return Measure(rps=rps, p50_ms=_latency(output, "50"), p99_ms=_latency(output, "99"), requests=requests_done,
                   errors=errors, bad=int(marks.group(1)), exhausted=int(marks.group(2)))
