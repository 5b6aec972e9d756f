"""A bound on the portal's concurrent calls to the issuer agent, shared by all workers and instances.

Each call to the agent (onboarding/issuers/base.py ``HttpIssuer.request``) first takes one of
``REGISTERFT_MAX_ISSUER_CALLS`` slot rows with a conditional update, which SQLite and PostgreSQL
both run atomically, and frees it when the call ends. A call that finds every slot taken waits,
briefly and with jitter, up to ``REGISTERFT_ISSUER_TIMEOUT``, then fails as "issuer unavailable"
(the visitor's page says so and tries again later). A slot is leased for two issuer timeouts and a
margin: a worker killed during a call cannot hold it for longer.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from onboarding.models import IssuerCallSlot

WAIT_STEP_SECONDS = 0.05


class NoFreeSlot(Exception):
    """Every slot stayed taken for as long as a call may wait."""


def claim_lease() -> timedelta:
    """How long a request may hold a claim that involves the issuer (a call slot here, the right
    to send an offer in the services): two issuer timeouts and a margin, after which the request
    has surely ended and another may take the claim over."""
    return timedelta(seconds=settings.REGISTERFT_ISSUER_TIMEOUT * 2 + 5)


def _take(count: int, holder: str) -> int | None:
    """A free slot's number, taken; None when all are taken. The slot rows are made on first need
    (and again should the bound grow), never deleted."""
    now = timezone.now()
    free = Q(taken_until__isnull=True) | Q(taken_until__lt=now)
    for number in random.sample(range(1, count + 1), count):  # noqa: S311 - spreads callers, no secret
        if IssuerCallSlot.objects.filter(free, pk=number).update(taken_until=now + claim_lease(), holder=holder):
            return number
    if IssuerCallSlot.objects.filter(pk__lte=count).count() < count:
        IssuerCallSlot.objects.bulk_create(
            [IssuerCallSlot(pk=number) for number in range(1, count + 1)], ignore_conflicts=True
        )
        return _take(count, holder)
    return None


@contextmanager
def issuer_call_slot() -> Iterator[None]:
    """Hold one slot for the duration of an issuer call; ``NoFreeSlot`` when none came free in
    time. With ``REGISTERFT_MAX_ISSUER_CALLS`` 0 there is no bound."""
    count = settings.REGISTERFT_MAX_ISSUER_CALLS
    if count <= 0:
        yield
        return
    holder = secrets.token_hex(16)
    deadline = time.monotonic() + settings.REGISTERFT_ISSUER_TIMEOUT
    number = _take(count, holder)
    while number is None:
        if time.monotonic() >= deadline:
            raise NoFreeSlot
        time.sleep(WAIT_STEP_SECONDS * (1 + random.random()))  # noqa: S311
        number = _take(count, holder)
    try:
        yield
    finally:
        IssuerCallSlot.objects.filter(pk=number, holder=holder).update(taken_until=None, holder="")
