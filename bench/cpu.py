"""The portal's CPU time by kind of request, for the event scenario (bench-only WSGI middleware
around the portal's application, bench/wsgi.py).

Each request's thread CPU time (``time.thread_time``: this request's own work in a gthread worker,
not its neighbours') is added to its kind: webhooks (those answered before Django too), polls (the
status endpoints the pages ask again and again) and pages (everything else), and to its route. Each
worker writes its totals to ``$BENCH_CPU_DIR/<pid>.json`` twice a second, so that the benchmark can
add them up between two moments. What it does not see (gunicorn's HTTP parsing and writing, the
master) is the difference to the processes' CPU time from /proc.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

POLLS = ("/queue/status", "/check_connection/status", "/loading/status")
# Totals are kept by kind (pages, polls, webhooks) and by route, the latter under this prefix.
ROUTE = "route:"
_totals: dict[str, list[float]] = {}
_lock = threading.Lock()
_writer: list[threading.Thread] = []


def kind_of(path: str) -> str:
    if path.startswith("/webhooks/"):
        return "webhooks"
    if path in POLLS:
        return "polls"
    return "pages"


def route_of(method: str, path: str) -> str:
    """The request's route as the report names it (``route:GET /name``): the short links' codes
    and the webhooks' topics left out."""
    for prefix in ("/i/", "/webhooks/"):
        if path.startswith(prefix):
            path = prefix + "…"
    return f"{ROUTE}{method} {path}"


def _write_forever(folder: Path) -> None:
    target = folder / f"{os.getpid()}.json"
    while True:
        time.sleep(0.5)
        with _lock:
            text = json.dumps(_totals)
        target.with_suffix(".tmp").write_text(text)
        target.with_suffix(".tmp").replace(target)


class RequestCpu:
    """WSGI middleware: adds each request's CPU time, the body's iteration included, to its kind."""

    def __init__(self, application: Callable[..., Iterable[bytes]]):
        self.application = application

    def __call__(self, environ: dict, start_response: Callable) -> list[bytes]:
        started = time.thread_time()
        result = self.application(environ, start_response)
        try:
            body = list(result)
        finally:
            getattr(result, "close", lambda: None)()
        spent, path = time.thread_time() - started, environ.get("PATH_INFO", "")
        _add(kind_of(path), spent)
        _add(route_of(environ.get("REQUEST_METHOD", ""), path), spent)
        return body


def _add(kind: str, spent: float) -> None:
    with _lock:
        seconds_count = _totals.setdefault(kind, [0.0, 0])
        seconds_count[0] += spent
        seconds_count[1] += 1
        if not _writer:
            thread = threading.Thread(target=_write_forever, args=(Path(os.environ["BENCH_CPU_DIR"]),),
                                      name="bench-cpu", daemon=True)
            _writer.append(thread)
            thread.start()


def read_totals(folder: Path) -> dict[str, tuple[float, int]]:
    """Every worker's totals added up: kind -> (CPU seconds, requests)."""
    found: dict[str, tuple[float, int]] = {}
    for path in folder.glob("*.json"):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for kind, (seconds, count) in data.items():
            before = found.get(kind, (0.0, 0))
            found[kind] = (before[0] + seconds, before[1] + count)
    return found
