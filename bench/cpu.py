"""The portal's CPU time by kind of request, for the event scenario (bench-only middleware).

Each request's thread CPU time (``time.thread_time``: this request's own work in a gthread worker,
not its neighbours') is added to its kind: webhooks, polls (the status endpoints the pages ask
again and again) and pages (everything else). Each worker writes its totals to
``$BENCH_CPU_DIR/<pid>.json`` twice a second, so that the benchmark can add them up between two
moments. What the middleware does not see (gunicorn's HTTP parsing, the master) is the difference
to the processes' CPU time from /proc.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from django.http import HttpRequest, HttpResponse

POLLS = ("/queue/status", "/check_connection/status", "/loading/status")
_totals: dict[str, list[float]] = {}
_lock = threading.Lock()
_writer: list[threading.Thread] = []


def kind_of(path: str) -> str:
    if path.startswith("/webhooks/"):
        return "webhooks"
    if path in POLLS:
        return "polls"
    return "pages"


def _write_forever(folder: Path) -> None:
    target = folder / f"{os.getpid()}.json"
    while True:
        time.sleep(0.5)
        with _lock:
            text = json.dumps(_totals)
        target.with_suffix(".tmp").write_text(text)
        target.with_suffix(".tmp").replace(target)


class RequestCpuMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.thread_time()
        response = self.get_response(request)
        spent = time.thread_time() - started
        kind = kind_of(request.path)
        with _lock:
            seconds_count = _totals.setdefault(kind, [0.0, 0])
            seconds_count[0] += spent
            seconds_count[1] += 1
            if not _writer:
                thread = threading.Thread(target=_write_forever, args=(Path(os.environ["BENCH_CPU_DIR"]),),
                                          name="bench-cpu", daemon=True)
                _writer.append(thread)
                thread.start()
        return response


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
