"""Is this instance fit to serve, and does the issuer answer? For the probes and the metrics.

Readiness asks the database and the cache; the issuer's reachability comes from a health check
run in the background at most once per REGISTERFT_ISSUER_HEALTH_INTERVAL, so that no probe ever
waits for the issuer. The values a Prometheus scrape reads at scrape time (registrations by state,
whether the issuer is up) are collected here too, and added to ``metrics``' counters.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, connections
from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from onboarding import metrics, throttle
from onboarding.issuers import issuer_names
from onboarding.models import Registration
from onboarding.operations import issuer_status

logger = logging.getLogger("onboarding.ops")

ISSUER_HEALTH_CACHE_KEY = "registerft:issuer-health"


# --- Readiness ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Readiness:
    database: bool
    cache: bool
    issuer: dict[str, Any]
    # Every backend the portal runs, the first of them ``issuer``.
    issuers: list[dict[str, Any]]

    @property
    def ready(self) -> bool:
        # The issuer is reported, never required: when it is down the portal still answers its
        # visitors with its own page, which a load balancer taking the instance out would hide.
        return self.database and self.cache


def database_reachable() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as err:
        logger.warning("readiness database unreachable error=%s", err.__class__.__name__)
        return False
    return True


def cache_reachable() -> bool:
    try:
        cache.set(READINESS_CACHE_KEY, "1", 10)
        return cache.get(READINESS_CACHE_KEY) == "1"
    except Exception as err:  # noqa: BLE001 - each cache backend raises its own errors; any means "not ready"
        logger.warning("readiness cache unreachable error=%s", err.__class__.__name__)
        return False


READINESS_CACHE_KEY = "registerft:readiness"


def readiness() -> Readiness:
    """Whether this instance can serve visitors: its database and its cache answer."""
    cache_ok = cache_reachable()
    issuers = issuers_reachability(use_cache=cache_ok)
    return Readiness(database=database_reachable(), cache=cache_ok, issuer=issuers[0], issuers=issuers)


_refresh_lock = threading.Lock()
_refresh_thread: threading.Thread | None = None


def issuer_reachability(*, use_cache: bool = True) -> dict[str, Any]:
    """The first backend's reachability (the only one's, where the portal runs one)."""
    return issuers_reachability(use_cache=use_cache)[0]


def issuers_reachability(*, use_cache: bool = True) -> list[dict[str, Any]]:
    """Each backend's reachability from the last health check, at most a few seconds old, in
    the order of ``REGISTERFT_ISSUERS``.

    Never waits for an issuer: a stale or missing answer starts one check of every backend in the
    background (one per process at a time) and the last known answers are returned, ``reachable``
    None where there is none yet. A probe called every second thus costs each issuer one call per
    interval.
    """
    report = None
    if use_cache:
        try:
            report = cache.get(ISSUER_HEALTH_CACHE_KEY)
        except Exception:  # noqa: BLE001 - a broken cache is reported by readiness itself
            report = None
    max_age = settings.REGISTERFT_ISSUER_HEALTH_INTERVAL
    if report is None or time.time() - report.get("at", 0) > max_age:
        _start_issuer_refresh()
    known = {issuer["backend"]: issuer for issuer in (report or {}).get("issuers", [])}
    return [known.get(name) or {"backend": name, "reachable": None, "checked_at": None} for name in issuer_names()]


def _start_issuer_refresh() -> None:
    global _refresh_thread
    with _refresh_lock:
        if _refresh_thread is not None and _refresh_thread.is_alive():
            return
        _refresh_thread = threading.Thread(target=_refresh_in_background, name="issuer-health", daemon=True)
        _refresh_thread.start()


def issuer_refresh_health() -> dict[str, Any]:
    """Ask every backend now and keep the answers for ``issuers_reachability``."""
    issuers = []
    for name in issuer_names():
        health = issuer_status(name)
        issuers.append({
            "backend": health.backend,
            "reachable": health.reachable,
            "checked_at": timezone.now().isoformat(timespec="seconds"),
        })
    report = {"issuers": issuers, "at": time.time()}
    try:
        cache.set(ISSUER_HEALTH_CACHE_KEY, report, None)
    except Exception:  # noqa: BLE001 - without a cache the next probe simply asks again
        logger.warning("issuer health could not be cached")
    return report


def _refresh_in_background() -> None:
    try:
        issuer_refresh_health()
    finally:
        # The thread's own database connections (if a backend opened one): nobody else closes them.
        connections.close_all()


def issuer_refresh_wait(timeout: float = 5.0) -> None:
    """Wait for a background issuer check to finish (tests, and commands that want a fresh answer)."""
    thread = _refresh_thread
    if thread is not None:
        thread.join(timeout)


# --- Metrics read at scrape time ------------------------------------------------------------------


class PortalStateCollector(Collector):
    """Values read at scrape time: registrations by state, and whether the issuer answers.

    Read from the database and the last health check, so they are the same whichever worker a
    scrape reaches.
    """

    def collect(self) -> Iterator[GaugeMetricFamily]:
        counts = dict(Registration.objects.values_list("state").annotate(n=Count("pk")).values_list("state", "n"))
        registrations = GaugeMetricFamily(
            "registerft_registrations", "Registrations in the database, by state.", labels=["state"]
        )
        for state in Registration.State.values:
            registrations.add_metric([state], counts.get(state, 0))
        yield registrations

        by_backend = GaugeMetricFamily(
            "registerft_registrations_by_backend",
            "Registrations in the database, by the issuer backend (the kind of wallet) and state.",
            labels=["backend", "state"],
        )
        rows = Registration.objects.values_list("backend", "state").annotate(n=Count("pk"))
        counted = {(backend, state): n for backend, state, n in rows}
        for backend in sorted(set(issuer_names()) | {backend for backend, _state in counted}):
            for state in Registration.State.values:
                by_backend.add_metric([backend, state], counted.get((backend, state), 0))
        yield by_backend

        up = GaugeMetricFamily(
            "registerft_issuer_up",
            "1 when the issuer answered its last health check, 0 when not (absent before the first check).",
            labels=["backend"],
        )
        for issuer in issuers_reachability():
            if issuer["reachable"] is not None:
                up.add_metric([issuer["backend"]], 1 if issuer["reachable"] else 0)
        yield up
        yield from line_gauges()


def line_gauges() -> Iterator[GaugeMetricFamily]:
    """The line at the door as it stands: its adaptive limit, the places held, its length."""
    yield GaugeMetricFamily("registerft_line_limit", "New registrations the issuer agent gets at once now (the "
                            "adaptive limit; at most REGISTERFT_MAX_IN_PROGRESS).", value=throttle.line_limit())
    yield GaugeMetricFamily("registerft_line_places_held", "Registrations in progress at the issuer agent now.",
                            value=throttle.places_held())
    yield GaugeMetricFamily("registerft_line_length", "Visitors holding a place in the line at the door.",
                            value=throttle.line_length())


def metrics_exposition() -> bytes:
    """The text a Prometheus scrape receives: the counters, then the state read now."""
    return metrics.exposition(PortalStateCollector())
