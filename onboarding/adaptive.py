"""The line's adaptive limit: how many new registrations the issuer agent gets at once, found from
the latency of its own calls rather than tuned by hand.

An agent keeps its calls fast until it has more flows than it can work on; past that point each
call waits behind the others, and its latency grows before anything fails. So the limit follows
AIMD (as TCP does, and as Netflix's concurrency-limits do on latency): each call of the flow that
comes back fast adds a little (one place per limit's worth of calls), and a call much slower than
the agent's latency without load, or one that failed, cuts the limit by a quarter, at most once per
round trip. ``REGISTERFT_MAX_IN_PROGRESS`` is its ceiling, and its start.

The limit is one ``Lease`` row (in thousandths of a place), shared by every worker and instance;
each process keeps its own measure of the latency without load (the fastest calls it saw, rising
slowly so that an agent that got slower for good is not taken as overloaded for ever).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from django.db.models import F
from django.db.models.functions import Greatest, Least
from django.utils import timezone

from onboarding.leases import lease_read
from onboarding.models import Lease

LIMIT_KEY = "line:limit"
SCALE = 1000
# A call this many times slower than the agent's latency without load means it queues.
TOLERANCE = 2.0
# Below this no call counts as slow. Each flow the agent works on lengthens its calls a little, long
# before it queues: in make bench's event scenario (one ACA-Py agent, 2 cores) calls took 0.1 to
# 0.5 s with twelve flows at once, at the best rate, while a floor of 0.15 s held the limit at five
# and the agent partly idle. Half a second still keeps the visitors' pages quick.
SLOW_FLOOR_SECONDS = 0.5
# Cut by a quarter: integer arithmetic in the database (count * 3 / 4), which stores whole numbers.
DECREASE = (3, 4)
LOWEST = 1
# How quickly the remembered latency without load follows calls slower than it (per call).
BASELINE_RISE = 0.02
# The flow's calls whose latency drives the limit (a health check or an operator's purge does not).
DRIVING = frozenset({"create_invitation", "offer_credential"})

_baselines: dict[str, float] = {}
_lock = threading.Lock()


def limit_current(*, ceiling: int) -> int:
    """The line's limit now: a whole number of places between 1 and ``ceiling``."""
    if ceiling <= 0:
        return 0
    return limit_of(Lease.objects.filter(key=LIMIT_KEY).values_list("count", flat=True).first() or 0, ceiling=ceiling)


def limit_of(stored: int, *, ceiling: int) -> int:
    """The limit a stored count stands for (none stored yet: the ceiling)."""
    if ceiling <= 0:
        return 0
    if not stored:
        return ceiling
    return max(LOWEST, min(ceiling, int(stored) // SCALE))


def limit_set(*, places: int) -> None:
    """Set the limit (tests, and an operator who knows better for a while)."""
    Lease.objects.update_or_create(key=LIMIT_KEY, defaults={"count": max(LOWEST, places) * SCALE, "until": None})


def _slow(operation: str, seconds: float) -> bool:
    """Whether this call waited behind others; updates this process's latency without load."""
    with _lock:
        baseline = _baselines.get(operation)
        if baseline is None or seconds < baseline:
            _baselines[operation] = seconds
            return False
        _baselines[operation] = baseline + (seconds - baseline) * BASELINE_RISE
    return seconds > max(SLOW_FLOOR_SECONDS, baseline * TOLERANCE)


def limit_observe(*, operation: str, seconds: float, ok: bool, ceiling: int, now: datetime | None = None) -> None:
    """One call to the agent has ended: adjust the shared limit by its latency (or failure)."""
    if ceiling <= 0 or operation not in DRIVING:
        return
    now = now or timezone.now()
    slow = not ok or _slow(operation, seconds)
    row = Lease.objects.filter(key=LIMIT_KEY)
    if slow:
        # Once per round trip: the calls that were under way together saw the same queue.
        cooldown = now + timedelta(seconds=max(seconds, 1.0))
        cut = row.filter(until__lte=now) | row.filter(until__isnull=True)
        times, by = DECREASE
        if not cut.update(count=Greatest(F("count") * times / by, LOWEST * SCALE), until=cooldown):
            Lease.objects.bulk_create([Lease(key=LIMIT_KEY, count=max(LOWEST * SCALE, ceiling * SCALE * times // by),
                                             until=cooldown)], ignore_conflicts=True)
        return
    current, _held = lease_read([LIMIT_KEY], now=now).get(LIMIT_KEY, (None, False))
    if current is None or current >= ceiling * SCALE:
        return  # at the ceiling (where it starts): nothing to write
    step = SCALE // max(LOWEST, current // SCALE)
    row.update(count=Least(F("count") + step, ceiling * SCALE))
