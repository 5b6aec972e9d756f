"""Prometheus metrics (``REGISTERFT_METRICS=1``): issuer calls, webhook deliveries, registrations.

Counters and histograms are updated where things happen. Under several gunicorn workers set
``PROMETHEUS_MULTIPROC_DIR`` to an empty folder before start: each worker then writes its values
to files there and a scrape, whichever worker answers it, adds them up. The values read at scrape
time (registrations by state, the issuer's reachability) are ``health``'s collector, passed in.

A leaf: it imports nothing of the portal, so that the issuer backends can count their calls.
"""

from __future__ import annotations

import os

from django.conf import settings
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.registry import Collector

# The portal's own metrics live in their own registry, not the library's global one, so that the
# exposition holds exactly what this module defines.
PORTAL = CollectorRegistry(auto_describe=True)

ISSUER_CALL_SECONDS = Histogram(
    "registerft_issuer_call_duration_seconds",
    "Time an HTTP call to the issuer took, by backend and operation.",
    ["backend", "operation"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=PORTAL,
)
ISSUER_CALL_ERRORS = Counter(
    "registerft_issuer_call_errors_total",
    "Issuer calls that failed, by backend, operation and outcome (timeout, unreachable, http_<status>, bad_json).",
    ["backend", "operation", "outcome"],
    registry=PORTAL,
)
WEBHOOK_DELIVERIES = Counter(
    "registerft_webhook_deliveries_total",
    "Webhook deliveries from the issuer, by topic and outcome.",
    ["topic", "outcome"],
    registry=PORTAL,
)

# manage.py acapy_events: in multi-process mode a gauge of a process that ended is dropped, so the
# gauge reads 0 (or is absent) whenever no process follows the agent's events.
EVENT_STREAM_OPEN = Gauge(
    "registerft_acapy_event_stream_open",
    "1 while manage.py acapy_events has the ACA-Py agent's event websocket open.",
    multiprocess_mode="livesum",
    registry=PORTAL,
)
EVENT_STREAM_BREAKS = Counter(
    "registerft_acapy_event_stream_breaks_total",
    "Times manage.py acapy_events could not open the ACA-Py agent's event websocket, or lost it.",
    registry=PORTAL,
)

LINE_WAIT_SECONDS = Histogram(
    "registerft_line_wait_seconds",
    "Time a new visitor waited in the line at the door before their invitation was made (0: not at all).",
    buckets=(0.0, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
    registry=PORTAL,
)


def line_wait_observed(*, seconds: float) -> None:
    if settings.REGISTERFT_METRICS:
        LINE_WAIT_SECONDS.observe(seconds)


def issuer_call_observed(*, backend: str, operation: str, outcome: str, seconds: float) -> None:
    if not settings.REGISTERFT_METRICS:
        return
    ISSUER_CALL_SECONDS.labels(backend, operation).observe(seconds)
    if outcome != "ok":
        ISSUER_CALL_ERRORS.labels(backend, operation, outcome).inc()


def event_stream_opened() -> None:
    if settings.REGISTERFT_METRICS:
        EVENT_STREAM_OPEN.set(1)


def event_stream_closed(*, broken: bool) -> None:
    if settings.REGISTERFT_METRICS:
        EVENT_STREAM_OPEN.set(0)
        if broken:
            EVENT_STREAM_BREAKS.inc()


def webhook_delivery_observed(*, topic: str, outcome: str) -> None:
    if settings.REGISTERFT_METRICS:
        WEBHOOK_DELIVERIES.labels(topic[:50], outcome[:50]).inc()


def exposition(*scrape_time: Collector) -> bytes:
    """The text a Prometheus scrape receives: the counters (added up over the workers in
    multi-process mode), then what the ``scrape_time`` collectors read now."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)
    else:
        counted = PORTAL
    state = CollectorRegistry(auto_describe=False)
    for collector in scrape_time:
        state.register(collector)
    return generate_latest(counted) + generate_latest(state)
