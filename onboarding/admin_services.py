"""What admins and operators do: the issuer's health, attendee lists, retention, kiosk invitations.

Management commands and the health endpoints call these functions; they hold the rules, the
commands only parse arguments and print. Kept apart from ``services.py`` (the visitor's flow) so
that the two grow without stepping on each other.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import qrcode
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from onboarding.issuers import get_issuer
from onboarding.issuers.base import Invitation, IssuerError, IssuerHealth
from onboarding.models import DemoCredential, Registration

State = Registration.State
logger = logging.getLogger("onboarding.ops")


class AdminError(Exception):
    """A request an admin made that cannot be done as asked; the message says why."""


# --- The issuer ---------------------------------------------------------------------------------

MASK = "****"
# A setting whose name contains one of these words is a secret: its value is never printed.
SECRET_WORDS = ("key", "secret", "token", "password", "passwd", "credential")


def _mask_url(value: str) -> str:
    """A URL with the password in its user part (https://user:pw@host) replaced by the mask."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return value
    if not parts.password:
        return value
    netloc = f"{parts.username}:{MASK}@{parts.hostname or ''}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def mask_settings(values: dict[str, str]) -> dict[str, str]:
    """The backend's settings fit to print: secrets masked, passwords in URLs masked.

    Backends mask their own secrets already; this is the second lock on the same door.
    """
    masked = {}
    for name, value in values.items():
        value = str(value)
        if any(word in name.lower() for word in SECRET_WORDS) and MASK not in value:
            value = MASK if value and value != "(none)" else "(none)"
        masked[name] = _mask_url(value)
    return masked


def issuer_status() -> IssuerHealth:
    """Ask the configured issuer whether it answers, with its settings masked for printing."""
    issuer = get_issuer()
    started = time.monotonic()
    try:
        health = issuer.health()
    except IssuerError as err:
        # health() reports failures in its result; a backend that raises instead still counts as
        # "does not answer" rather than crashing the command or the readiness probe.
        health = IssuerHealth(issuer.name, False, seconds=time.monotonic() - started, detail=err.detail())
    values = {"timeout": f"{settings.REGISTERFT_ISSUER_TIMEOUT:g}s", **health.settings}
    return replace(health, settings=mask_settings(values))


ISSUER_HEALTH_CACHE_KEY = "registerft:issuer-health"


# --- Invitations for a kiosk or a wallet test ------------------------------------------------


def invitation_create(*, label: str, base_url: str) -> Invitation:
    """A new invitation at the issuer, its URL made absolute with ``base_url`` where the issuer
    gives a path of the portal (the demo issuer). Raises ``IssuerError``."""
    invitation = get_issuer().create_invitation(label=label)
    if invitation.url.startswith("/"):
        invitation = replace(invitation, url=base_url.rstrip("/") + invitation.url)
    return invitation


def qr_text(data: str, *, invert: bool = False) -> str:
    """A QR code drawn with block characters, two modules per character row, for a terminal."""
    code = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(data)
    out = io.StringIO()
    code.print_ascii(out=out, invert=invert)
    return out.getvalue()


# --- Finding registrations --------------------------------------------------------------------

DURATION = re.compile(r"^\s*(\d+)\s*([dh])\s*$", re.IGNORECASE)


def parse_duration(text: str) -> timedelta:
    """``30d`` (days) or ``12h`` (hours), at least one of the unit."""
    match = DURATION.match(text or "")
    if not match or int(match.group(1)) < 1:
        raise AdminError(f"{text!r} is not a duration: write a whole number of days or hours, e.g. 30d or 12h.")
    amount, unit = int(match.group(1)), match.group(2).lower()
    return timedelta(days=amount) if unit == "d" else timedelta(hours=amount)


def parse_moment(text: str, *, end_of_day: bool = False) -> datetime:
    """An ISO date or date-time; without a zone it is the portal's time zone. A date alone is the
    start of that day, or with ``end_of_day`` the start of the next (so that "until Tuesday"
    includes Tuesday)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise AdminError(f"{text!r} is not a date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM).") from None
    if end_of_day and len(text.strip()) == 10:
        moment += timedelta(days=1)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def registration_list(
    *, states: Sequence[str] = (), since: datetime | None = None, until: datetime | None = None
) -> QuerySet[Registration]:
    """Registrations created from ``since`` (inclusive) to ``until`` (exclusive), oldest first."""
    unknown = sorted(set(states) - set(State.values))
    if unknown:
        raise AdminError(f"Unknown state {', '.join(unknown)}: choose from {', '.join(State.values)}.")
    registrations = Registration.objects.order_by("created_at")
    if states:
        registrations = registrations.filter(state__in=states)
    if since is not None:
        registrations = registrations.filter(created_at__gte=since)
    if until is not None:
        registrations = registrations.filter(created_at__lt=until)
    return registrations


# --- Exporting them ---------------------------------------------------------------------------

EXPORT_FORMATS = ("table", "csv", "json")
# Cells a spreadsheet would run as a formula (or that hide one behind a tab or line break).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: str) -> str:
    """A cell a spreadsheet shows as text: a leading quote disarms a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _export_columns() -> list[str]:
    fields = [str(field["name"]) for field in settings.REGISTERFT_FORM_FIELDS]
    return ["id", "state", "failure", "created_at", "issued_at", *fields]


def _moment(value: datetime | None) -> str:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else ""


def registration_rows(*, registrations: Iterable[Registration]) -> Iterator[dict[str, str]]:
    """One flat row per registration: its state, times and the submitted details."""
    columns = _export_columns()
    for registration in registrations:
        row = {
            "id": str(registration.pk),
            "state": registration.state,
            "failure": registration.failure,
            "created_at": _moment(registration.created_at),
            "issued_at": _moment(registration.issued_at),
        }
        attributes = registration.attributes if isinstance(registration.attributes, dict) else {}
        for name in columns[len(row):]:
            row[name] = str(attributes.get(name, ""))
        yield row


def _write_table(rows: list[dict[str, str]], columns: list[str], out: IO[str]) -> None:
    width = 40  # long cells are cut so that a row fits a terminal line or two
    cells = [[(row[column] if len(row[column]) <= width else row[column][: width - 1] + "…") for column in columns]
             for row in rows]
    widths = [max([len(column)] + [len(line[index]) for line in cells]) for index, column in enumerate(columns)]
    out.write("  ".join(column.ljust(widths[i]) for i, column in enumerate(columns)).rstrip() + "\n")
    for line in cells:
        out.write("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip() + "\n")
    out.write(f"({len(rows)} registration{'s' if len(rows) != 1 else ''})\n")


def registration_export(*, registrations: Iterable[Registration], fmt: str, out: IO[str]) -> int:
    """Write the registrations to ``out`` as a table, CSV or JSON; returns how many."""
    if fmt not in EXPORT_FORMATS:
        raise AdminError(f"Unknown format {fmt!r}: choose from {', '.join(EXPORT_FORMATS)}.")
    columns = _export_columns()
    rows = list(registration_rows(registrations=registrations))
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({column: csv_safe(value) for column, value in row.items()})
    elif fmt == "json":
        json.dump(rows, out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        _write_table(rows, columns, out)
    return len(rows)


# --- Retention --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurgeResult:
    count: int
    anonymised: bool
    dry_run: bool
    cutoff: datetime | None = None
    # The issuer agent's records of the offers, deleted there; and the registrations kept for a
    # later run because the agent could not delete theirs.
    agent_records_deleted: int = 0
    kept_for_agent: int = 0


def _purge_targets(*, older_than: timedelta | None, registration_id: str | None) -> QuerySet[Registration]:
    if (older_than is None) == (registration_id is None):
        raise AdminError("Name either a retention period (--older-than) or one registration (--id), not both.")
    if registration_id is not None:
        try:
            pk = uuid.UUID(registration_id)
        except ValueError:
            raise AdminError(f"{registration_id!r} is not a registration id (a UUID).") from None
        targets = Registration.objects.filter(pk=pk)
        if not targets.exists():
            raise AdminError(f"There is no registration with id {registration_id}.")
        return targets
    assert older_than is not None
    return Registration.objects.filter(created_at__lt=timezone.now() - older_than)


def registration_purge(
    *,
    older_than: timedelta | None = None,
    registration_id: str | None = None,
    anonymise: bool = False,
    dry_run: bool = False,
) -> PurgeResult:
    """Delete (or anonymise) registrations created longer ago than ``older_than``, or the one with
    ``registration_id``.

    Anonymising keeps the state and the times (for statistics) and drops everything that points
    at the person: the submitted details and the issuer's handles for the connection and offer.
    The demo issuer keeps the offered details in this database too, so its copy goes as well; an
    agent that keeps its own record of each offer (ACA-Py) is asked to delete it first, and a
    registration whose record the agent could not delete stays for the next run.
    """
    targets = _purge_targets(older_than=older_than, registration_id=registration_id)
    cutoff = timezone.now() - older_than if older_than is not None else None
    count = targets.count()
    if dry_run or not count:
        return PurgeResult(count, anonymise, dry_run, cutoff)
    ids = list(targets.values_list("pk", flat=True))
    deleted_at_agent, kept = _forget_at_the_agent(ids)
    ids = [pk for pk in ids if pk not in kept]
    with transaction.atomic():
        # Every offer the demo issuer made over these registrations' connections, including one
        # replaced by "send the offer again", holds the details.
        handles = Registration.objects.filter(pk__in=ids, backend="demo").values_list(
            "connection_id", "process_id", "previous_process_id"
        )
        demo_connections = _uuids(connection_id for connection_id, _process, _previous in handles)
        offers = _uuids(offer for _connection, process, previous in handles for offer in (process, previous))
        DemoCredential.objects.filter(Q(connection_id__in=demo_connections) | Q(pk__in=offers)).delete()
        if anonymise:
            Registration.objects.filter(pk__in=ids).update(
                attributes={}, failure_detail="", invitation_id="", invitation_url="", connection_id="", process_id="",
                previous_process_id="", updated_at=timezone.now(),
            )
        else:
            Registration.objects.filter(pk__in=ids).delete()
    return PurgeResult(len(ids), anonymise, dry_run, cutoff, deleted_at_agent, len(kept))


def _forget_at_the_agent(ids: list[uuid.UUID]) -> tuple[int, set[uuid.UUID]]:
    """Delete the configured agent's records of these registrations' offers. Returns how many it
    deleted, and the registrations whose records it could not delete: those stay in the portal,
    with the handles a later run needs."""
    issuer = get_issuer()
    deleted, kept = 0, set()
    handles = Registration.objects.filter(pk__in=ids, backend=issuer.name).values_list(
        "pk", "process_id", "previous_process_id"
    )
    for pk, *offers in handles:
        for process_id in filter(None, offers):
            try:
                deleted += issuer.forget_credential(process_id=process_id)
            except IssuerError as err:
                logger.warning("purge: the agent kept credential record registration=%s error=%s", pk, err)
                kept.add(pk)
    return deleted, kept


def _uuids(values: Iterable[str]) -> list[uuid.UUID]:
    found = []
    for value in values:
        try:
            found.append(uuid.UUID(value))
        except ValueError:
            continue  # not a demo credential's id: nothing of ours to remove
    return found


# --- Readiness ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Readiness:
    database: bool
    cache: bool
    issuer: dict[str, Any]

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
    return Readiness(database=database_reachable(), cache=cache_ok, issuer=issuer_reachability(use_cache=cache_ok))


_refresh_lock = threading.Lock()
_refresh_thread: threading.Thread | None = None


def issuer_reachability(*, use_cache: bool = True) -> dict[str, Any]:
    """The issuer's reachability from the last health check, at most a few seconds old.

    Never waits for the issuer: a stale or missing answer starts one check in the background (one
    per process at a time) and the last known answer is returned, ``reachable`` None when there is
    none yet. A probe called every second thus costs the issuer one call per interval.
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
    if report is None:
        return {"backend": get_issuer().name, "reachable": None, "checked_at": None}
    return {key: value for key, value in report.items() if key != "at"}


def _start_issuer_refresh() -> None:
    global _refresh_thread
    with _refresh_lock:
        if _refresh_thread is not None and _refresh_thread.is_alive():
            return
        _refresh_thread = threading.Thread(target=_refresh_in_background, name="issuer-health", daemon=True)
        _refresh_thread.start()


def issuer_refresh_health() -> dict[str, Any]:
    """Ask the issuer now and keep the answer for ``issuer_reachability``."""
    health = issuer_status()
    report = {
        "backend": health.backend,
        "reachable": health.reachable,
        "checked_at": timezone.now().isoformat(timespec="seconds"),
        "at": time.time(),
    }
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
