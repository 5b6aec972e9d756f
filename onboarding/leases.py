"""The throttle's one primitive: the ``Lease`` row (onboarding/models.py).

A lease is a named row that one holder may hold until a moment (a place at the agent, a call slot),
or that counts within a window (a rate window, the line's "served" counter). Every worker and
instance shares them through the database; a holder that died frees its lease when it runs out.
Each take is one conditional UPDATE, atomic on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from datetime import datetime, timedelta

from django.db import IntegrityError, connections, router, transaction
from django.db.models import F, Q
from django.utils import timezone

from onboarding.models import Lease

CLEANUP_EVERY_SECONDS = 1


def _written_out(connection: Any, *fields: str) -> tuple[str, list[str]]:
    """For SQL written out on ``connection``: the lease table's quoted name and these fields' columns."""
    quote, meta = connection.ops.quote_name, Lease._meta
    return quote(meta.db_table), [quote(meta.get_field(name).column) for name in fields]


def _marks(keys: Sequence[str]) -> str:
    return ", ".join(["%s"] * len(keys))


def _free(now: datetime) -> Q:
    return Q(until__isnull=True) | Q(until__lte=now)


def lease_take(keys: Sequence[str], *, holder: str, seconds: float, now: datetime | None = None) -> str | None:
    """Take one of ``keys`` that nobody holds now, for ``seconds``; its key, or None when all are
    held. Rows are made on first need and never deleted."""
    now = now or timezone.now()
    until = now + timedelta(seconds=seconds)
    taken = _take_one(keys, holder=holder, until=until, now=now)
    if taken is None and Lease.objects.filter(key__in=keys).count() < len(keys):
        Lease.objects.bulk_create([Lease(key=key) for key in keys], ignore_conflicts=True)
        taken = _take_one(keys, holder=holder, until=until, now=now)
    return taken


def _take_one(keys: Sequence[str], *, holder: str, until: datetime, now: datetime) -> str | None:
    """One free key of ``keys`` taken with one conditional statement, atomic on SQLite and
    PostgreSQL alike. Where the database returns rows from an UPDATE (both do) the statement also
    picks the key, so that a take is one statement where it was a SELECT and an UPDATE (a new
    visitor's start page and details take two leases each); elsewhere the free keys are read first."""
    connection = connections[router.db_for_write(Lease)]
    if not connection.features.can_return_rows_from_bulk_insert:  # the same RETURNING clause
        order = {key: index for index, key in enumerate(keys)}
        free = Lease.objects.filter(_free(now), key__in=keys).values_list("key", flat=True)
        for key in sorted(free, key=order.__getitem__):
            if Lease.objects.filter(_free(now), key=key).update(holder=holder, until=until):
                return key
        return None
    table, (name, holder_column, ends) = _written_out(connection, "key", "holder", "until")
    free = f"({ends} IS NULL OR {ends} <= %s)"
    # PostgreSQL: workers racing for the same free row skip each other's instead of waiting for it.
    skip = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    stamp = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {holder_column} = %s, {ends} = %s WHERE {free} AND {name} = "  # noqa: S608  # nosec B608 - names from the model, values bound
            f"(SELECT {name} FROM {table} WHERE {free} AND {name} IN ({_marks(keys)}) LIMIT 1{skip}) RETURNING {name}",
            [holder, connection.ops.adapt_datetimefield_value(until), stamp, stamp, *keys],
        )
        row = cursor.fetchone()
    return None if row is None else row[0]


def lease_release(keys: Sequence[str], *, holder: str) -> int:
    """Free whichever of ``keys`` ``holder`` holds; how many it held.

    Written out as SQL: a place's release names every place key (twice the line's ceiling), and
    the ORM's building of that list cost four times the statement (in-process, 0.3 ms a release)."""
    if not keys:
        return 0
    connection = connections[router.db_for_write(Lease)]
    table, (key, holder_column, until) = _written_out(connection, "key", "holder", "until")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {holder_column} = %s, {until} = NULL "  # noqa: S608  # nosec B608 - names from the model, values bound
            f"WHERE {holder_column} = %s AND {key} IN ({_marks(keys)})",
            ["", holder, *keys],
        )
        return cursor.rowcount


def lease_held(keys: Sequence[str], *, now: datetime) -> int:
    return Lease.objects.filter(key__in=keys, until__gt=now).count()


def lease_read(keys: Sequence[str], *, now: datetime) -> dict[str, tuple[int, bool]]:
    """Several leases at once: each existing key's count, and whether somebody holds it now.

    Written out as SQL, with "held" decided by the database: every line poll reads the line's
    leases, and building the ORM's query (and converting each row's moment) cost more than running
    it (in-process, a fifth of a line poll's CPU time)."""
    connection = connections[router.db_for_read(Lease)]
    table, (key, count, until) = _written_out(connection, "key", "count", "until")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {key}, {count}, {until} > %s FROM {table} WHERE {key} IN ({_marks(keys)})",  # noqa: S608  # nosec B608 - names from the model, values bound
            [connection.ops.adapt_datetimefield_value(now), *keys],
        )
        return {name: (number, bool(held)) for name, number, held in cursor.fetchall()}


def lease_count(key: str, *, until: datetime, now: datetime) -> int:
    """Count one more in the window lease ``key`` (made, counting 1, if it is new); the count.

    Two workers never read the same count: where the database has both an upsert and RETURNING
    (PostgreSQL, SQLite 3.35+) one statement opens the window or raises its count and returns it
    (a new visitor's window cost four statements: an UPDATE that found no row, then a transaction
    to insert it); elsewhere the UPDATE holds the row, in one transaction, until the count is read
    back."""
    connection = connections[router.db_for_write(Lease)]
    features = connection.features
    if features.can_return_rows_from_bulk_insert and features.supports_update_conflicts_with_target:
        count = _count_upsert(connection, key, until=until)
    else:
        with transaction.atomic():
            count = _count_one(key, until=until)
    if count == 1 and _cleanup_due(now):
        # A new window is a good moment to drop finished ones: at most once a second in each
        # process (every new visitor opens a window of their own).
        Lease.objects.filter(key__gte="rate:", key__lt="rate;", until__lte=now).delete()
    return count


_cleaned_at: list[datetime] = []


def _cleanup_due(now: datetime) -> bool:
    if _cleaned_at and abs((now - _cleaned_at[0]).total_seconds()) < CLEANUP_EVERY_SECONDS:
        return False
    _cleaned_at[:] = [now]
    return True


def _count_upsert(connection: Any, key: str, *, until: datetime) -> int:
    table, (name, holder, count, ends) = _written_out(connection, "key", "holder", "count", "until")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({name}, {holder}, {count}, {ends}) VALUES (%s, '', 1, %s) "  # noqa: S608  # nosec B608 - names from the model, values bound
            f"ON CONFLICT ({name}) DO UPDATE SET {count} = {table}.{count} + 1 RETURNING {count}",
            [key, connection.ops.adapt_datetimefield_value(until)],
        )
        return int(cursor.fetchone()[0])


def _count_one(key: str, *, until: datetime) -> int:
    """Inside the caller's transaction: raise the window's count, the UPDATE holding the row until
    the count is read back, or open the window counting 1."""
    row = Lease.objects.filter(key=key)
    if row.update(count=F("count") + 1):
        return row.values_list("count", flat=True).get()
    try:
        with transaction.atomic():
            Lease.objects.create(key=key, count=1, until=until)
    except IntegrityError:
        # Another worker opened the window between our UPDATE and INSERT: count on its row.
        return _count_one(key, until=until)
    return 1


def counter_add(key: str, amount: int) -> None:
    if amount and not Lease.objects.filter(key=key).update(count=F("count") + amount):
        Lease.objects.bulk_create([Lease(key=key)], ignore_conflicts=True)
        Lease.objects.filter(key=key).update(count=F("count") + amount)


def counter(key: str) -> int:
    return Lease.objects.filter(key=key).values_list("count", flat=True).first() or 0
