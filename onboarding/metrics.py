"""Prometheus metrics (``REGISTERFT_METRICS=1``): issuer calls, webhook deliveries, registrations.

Counters and histograms are updated where things happen. Under several gunicorn workers set
``PROMETHEUS_MULTIPROC_DIR`` to an empty folder before start: each worker then writes its values
to files there and a scrape, whichever worker answers it, adds them up. The registrations by state
and the issuer's reachability are read at scrape time from the database and the last health
check, so they are the same whichever worker is asked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from django.conf import settings
from django.db.models import Count
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
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


def issuer_call_observed(*, backend: str, operation: str, outcome: str, seconds: float) -> None:
    if not settings.REGISTERFT_METRICS:
        return
    ISSUER_CALL_SECONDS.labels(backend, operation).observe(seconds)
    if outcome != "ok":
        ISSUER_CALL_ERRORS.labels(backend, operation, outcome).inc()


def webhook_delivery_observed(*, topic: str, outcome: str) -> None:
    if settings.REGISTERFT_METRICS:
        WEBHOOK_DELIVERIES.labels(topic[:50], outcome[:50]).inc()


class PortalStateCollector(Collector):
    """Values read at scrape time: registrations by state, and whether the issuer answers."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        # Imported here: this module is imported by the issuer backends, which models import.
        from onboarding.admin_services import issuer_reachability
        from onboarding.models import Registration

        counts = dict(Registration.objects.values_list("state").annotate(n=Count("pk")).values_list("state", "n"))
        registrations = GaugeMetricFamily(
            "registerft_registrations", "Registrations in the database, by state.", labels=["state"]
        )
        for state in Registration.State.values:
            registrations.add_metric([state], counts.get(state, 0))
        yield registrations

        issuer = issuer_reachability()
        up = GaugeMetricFamily(
            "registerft_issuer_up",
            "1 when the issuer answered its last health check, 0 when not (absent before the first check).",
            labels=["backend"],
        )
        if issuer["reachable"] is not None:
            up.add_metric([issuer["backend"]], 1 if issuer["reachable"] else 0)
        yield up


def metrics_exposition() -> bytes:
    """The text a Prometheus scrape receives."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)
    else:
        counted = PORTAL
    state = CollectorRegistry(auto_describe=False)
    state.register(PortalStateCollector())
    return generate_latest(counted) + generate_latest(state)
