"""What admins and operators do: the issuer's status, attendee lists, retention, kiosk invitations.

Management commands call these functions; they hold the rules and return typed data, the commands
parse arguments and print. Kept apart from ``services.py`` (the visitor's flow) so that the two
grow without stepping on each other.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from onboarding.issuers import acapy, get_issuer, issuer_names
from onboarding.issuers.base import Flow, Invitation, IssuerError, IssuerHealth
from onboarding.models import DemoCredential, Registration
from onboarding.services import issuer_call

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


def issuer_status(backend: str = "") -> IssuerHealth:
    """Ask an issuer the portal runs ("" the first) whether it answers, with its settings masked
    for printing."""
    issuer = get_issuer(backend)
    started = time.monotonic()
    try:
        health = issuer.health()
    except IssuerError as err:
        # health() reports failures in its result; a backend that raises instead still counts as
        # "does not answer" rather than crashing the command or the readiness probe.
        health = IssuerHealth(issuer.name, False, seconds=time.monotonic() - started, detail=err.detail())
    values = {"timeout": f"{settings.REGISTERFT_ISSUER_TIMEOUT:g}s", **health.settings}
    return replace(health, settings=mask_settings(values))


def event_stream_status(backend: str) -> str:
    """For ACA-Py, whether its event websocket (what ``acapy_events`` reads) accepts the admin key:
    "accepted", or why not; "" for a backend without one."""
    if backend != acapy.AcaPyIssuer.name:
        return ""
    # Imported here, as in agent_events: gunicorn's workers never load the websocket client.
    from onboarding.issuers.acapy_stream import AcaPyEventStream

    try:
        with AcaPyEventStream(settings.ACAPY_ADMIN_URL, settings.ACAPY_ADMIN_API_KEY,
                              open_timeout=settings.REGISTERFT_ISSUER_TIMEOUT):
            return "accepted"
    except IssuerError as err:
        return err.detail()


# --- Invitations for a kiosk or a wallet test ------------------------------------------------


def invitation_create(*, label: str, base_url: str, backend: str = "") -> Invitation:
    """A new invitation at the issuer ``backend`` ("" the first the portal runs that invites:
    a connection-first one), its URL made absolute with ``base_url`` where the issuer gives a
    path of the portal (the demo issuer). Raises ``IssuerError``."""
    inviting = [name for name in issuer_names() if get_issuer(name).flow == Flow.CONNECTION_FIRST]
    issuer = get_issuer(backend or (inviting or [""])[0])
    with issuer_call("create_invitation", backend=issuer.name):
        invitation = issuer.create_invitation(label=label)
    if invitation.url.startswith("/"):
        invitation = replace(invitation, url=base_url.rstrip("/") + invitation.url)
    return invitation


# --- Finding registrations, and their rows for an export -------------------------------------


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


@dataclass(frozen=True)
class RegistrationTable:
    """Registrations as flat rows of text, one per registration, each with every column."""

    columns: tuple[str, ...]
    rows: list[dict[str, str]]


def _export_columns() -> tuple[str, ...]:
    fields = [str(field["name"]) for field in settings.REGISTERFT_FORM_FIELDS]
    # Several backends: which kind of wallet each registration was made for (with one, no column).
    backend = ("backend",) if len(issuer_names()) > 1 else ()
    return ("id", "state", *backend, "failure", "created_at", "issued_at", *fields)


def _moment(value: datetime | None) -> str:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else ""


def registration_table(*, registrations: Iterable[Registration]) -> RegistrationTable:
    """The registrations' state, backend (where the portal runs several), times (in the portal's
    time zone) and submitted details."""
    columns = _export_columns()
    rows = []
    for registration in registrations:
        row = {
            "id": str(registration.pk),
            "state": registration.state,
            **({"backend": registration.backend} if "backend" in columns else {}),
            "failure": registration.failure,
            "created_at": _moment(registration.created_at),
            "issued_at": _moment(registration.issued_at),
        }
        attributes = registration.attributes if isinstance(registration.attributes, dict) else {}
        for name in columns[len(row):]:
            row[name] = str(attributes.get(name, ""))
        rows.append(row)
    return RegistrationTable(columns, rows)


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
    """Delete each agent's records of these registrations' offers (each registration's own
    backend, of those the portal runs). Returns how many they deleted, and the registrations whose
    records could not be deleted: those stay in the portal, with the handles a later run needs."""
    deleted, kept = 0, set()
    for backend in issuer_names():
        issuer = get_issuer(backend)
        handles = Registration.objects.filter(pk__in=ids, backend=issuer.name).values_list(
            "pk", "process_id", "previous_process_id"
        )
        for pk, *offers in handles:
            for process_id in filter(None, offers):
                try:
                    with issuer_call("forget_credential", backend=issuer.name):
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
