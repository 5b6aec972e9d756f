"""Reads that pages and polls make: the visitor's registration, and where it belongs in the flow.

The services write; these only read, and write nothing, not even the session (one read keeps its
result in the cache for a few seconds: ``typical_connection_ms``).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import statistics
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import connections, router
from django.utils import timezone

from onboarding.issuers import UnknownBackend, get_issuer, issuer_names
from onboarding.issuers.base import Flow, credential_offer_json, invitation_oob
from onboarding.models import LineTicket, Registration

ModelT = TypeVar("ModelT")

logger = logging.getLogger("onboarding.flow")

SESSION_KEY = "registerft"
DONE_SESSION_KEY = "registerft_done"
# The backend of the kind of wallet the visitor chose, where the portal runs several.
CHOICE_SESSION_KEY = "registerft_wallet"

State = Registration.State


class Step:
    START = "start"
    CHECK_CONNECTION = "check_connection"
    NAME = "name"
    LOADING = "loading"
    # Offer-first order: the QR code with the offer, while the wallet takes the credential.
    OFFER = "offer"
    SUCCESS = "success"


def wallet_choice_needed() -> bool:
    """Whether the visitor chooses their kind of wallet: the portal runs several backends."""
    return len(issuer_names()) > 1


def chosen_backend(session: Mapping[str, Any]) -> str:
    """The backend for the visitor's kind of wallet: the only one, or the one they chose among
    several ("" before they chose)."""
    names = issuer_names()
    if len(names) == 1:
        return names[0]
    chosen = session.get(CHOICE_SESSION_KEY)
    return chosen if chosen in names else ""


def visitor_backend(session: Mapping[str, Any], registration: Registration | None) -> str:
    """The backend the visitor's pages follow: their registration's, else their choice's."""
    return registration.backend if registration is not None else chosen_backend(session)


def offer_first(backend: str = "") -> bool:
    """Whether this backend ("" the first the portal runs) runs the offer-first order: details,
    then one QR code with the offer, then success (``Flow``)."""
    try:
        return get_issuer(backend).flow == Flow.OFFER_FIRST
    except UnknownBackend:
        return False


def visitor_step(session: Mapping[str, Any], registration: Registration | None) -> str:
    """The step where this visitor belongs: their registration's, else the first of the order
    of the backend they chose (the start page, which asks, before they chose)."""
    return registration_step(registration, backend=chosen_backend(session))


def registration_step(registration: Registration | None, *, backend: str = "") -> str:
    """The step (URL name) where a visitor with this registration belongs. Without one, the
    first step of ``backend``'s order ("" the only backend's; with several the start page)."""
    if registration is None:
        if not backend and wallet_choice_needed():
            return Step.START
        return Step.NAME if offer_first(backend) else Step.START
    if offer_first(registration.backend):
        return _offer_first_step(registration)
    if registration.state == State.INVITED:
        return Step.CHECK_CONNECTION
    if registration.state == State.CONNECTED:
        # An offer being sent (a request claimed it): the visitor waits for it, whichever of their
        # requests (a double click's) is sending it.
        return Step.LOADING if registration.offer_started_at else Step.NAME
    if registration.state == State.OFFERED:
        return Step.LOADING
    if registration.state == State.ISSUED:
        return Step.SUCCESS
    # A failure is shown on the waiting page of the step that failed, with "start again".
    return Step.LOADING if registration.offered_at else Step.CHECK_CONNECTION


def _offer_first_step(registration: Registration | None) -> str:
    if registration is None:
        return Step.NAME
    if registration.state == State.ISSUED:
        return Step.SUCCESS
    # Saved details wait for their offer on the offer's page (it is made when their turn comes);
    # a failure is shown there too, with "start again".
    return Step.OFFER


def registration_for_session(session: Mapping[str, Any]) -> Registration | None:
    flow = session.get(SESSION_KEY)
    if not isinstance(flow, dict) or "registration" not in flow:
        return None
    return registration_by_pk(flow["registration"])


PLAN_ATTRIBUTE = "registerft_read_plans"


def registration_by_pk(pk: Any) -> Registration | None:
    """One registration by its id, for every status poll and page of the flow (``row_where``)."""
    try:
        key = uuid.UUID(str(pk))
    except ValueError:
        return None
    return row_where(Registration, (("id", "="),), [key])


def registration_by_short_code(code: str) -> Registration | None:
    """The registration behind a QR code's short link (``/i/<code>``, ``/o/<code>``)."""
    return row_where(Registration, (("short_code", "="),), [code])


def row_where(model: type[ModelT], where: tuple[tuple[str, str], ...], values: list[Any]) -> ModelT | None:
    """One row of ``model`` whose fields compare to ``values`` as ``where`` says (``(("token",
    "="), ("expires_at", ">"))``), for the reads of every status poll and line poll.

    Written out as SQL because compiling the ORM's query cost more than running it: a fifth of a
    status poll's CPU time (make bench, 1.8 to 1.4 ms per poll in-process). The row becomes a model
    instance with every field's conversion from the database, as the ORM's would, from a plan made
    once per database connection and query (a raw queryset made it again for every read: 112
    against 46 us).
    """
    connection, plan = _plan(model, where)
    with connection.cursor() as cursor:
        cursor.execute(plan.sql, plan.bound(values, connection))
        row = cursor.fetchone()
    return None if row is None else plan.instance(row, connection)


def count_where(model: type[Any], where: tuple[tuple[str, str], ...], values: list[Any], *, up_to: int) -> int:
    """How many rows of ``model`` match as in ``row_where``, counted up to ``up_to``: a bounded
    read whatever the table's size, without compiling the ORM's query (the line's cap per address,
    on each new visitor's way into the line: their first page 2.3 to 2.0 ms in-process)."""
    connection, plan = _plan(model, where)
    with connection.cursor() as cursor:
        cursor.execute(plan.count_sql, [*plan.bound(values, connection), up_to])
        return cursor.fetchone()[0]


def _plan(model: type[Any], where: tuple[tuple[str, str], ...]) -> tuple[Any, _ReadPlan]:
    connection = connections[router.db_for_read(model)]
    plans = getattr(connection, PLAN_ATTRIBUTE, None)
    if plans is None:
        # The plans live with their connection (each gunicorn thread keeps its own).
        plans = {}
        setattr(connection, PLAN_ATTRIBUTE, plans)
    plan = plans.get((model, where))
    if plan is None:
        plan = plans[(model, where)] = _ReadPlan(model, where, connection)
    return connection, plan


def line_tickets_ahead(*, before: int | None, present_after: datetime, called_after: datetime, up_to: int) -> int:
    """Tickets in line ahead of ticket ``before`` (all of them for None) whose visitor is present
    (``present_until`` after ``present_after``) and not past their call (none yet, or after
    ``called_after``), counted up to ``up_to``: a bounded read whatever the line's length. Written
    out as SQL for the same reason as ``row_where``: compiling the ORM's query cost five times
    running it (0.26 against 0.05 ms in-process), on the start page and the line's polls."""
    connection = connections[router.db_for_read(LineTicket)]
    quote = connection.ops.quote_name
    meta = LineTicket._meta
    present, called, key = meta.get_field("present_until"), meta.get_field("called_at"), quote(meta.pk.column)
    sql = (f"SELECT 1 FROM {quote(meta.db_table)} WHERE {quote(present.column)} > %s "  # noqa: S608  # nosec B608 - names from the model, values bound
           f"AND ({quote(called.column)} IS NULL OR {quote(called.column)} > %s)")
    values = [present.get_db_prep_value(present_after, connection), called.get_db_prep_value(called_after, connection)]
    if before is not None:
        sql += f" AND {key} < %s"
        values.append(before)
    with connection.cursor() as cursor:
        cursor.execute(sql + " LIMIT %s", [*values, up_to])
        return len(cursor.fetchall())


class _ReadPlan:
    """One SELECT of a model's row on one connection, and its columns' converters."""

    def __init__(self, model: type[Any], where: tuple[tuple[str, str], ...], connection: Any):
        meta = model._meta
        quote = connection.ops.quote_name
        fields = meta.concrete_fields
        self.model = model
        self.names = [field.attname for field in fields]
        self.where_fields = [meta.get_field(name) for name, _operator in where]
        conditions = " AND ".join(f"{quote(meta.get_field(name).column)} {operator} %s" for name, operator in where)
        self.sql = (f"SELECT {', '.join(quote(field.column) for field in fields)} FROM {quote(meta.db_table)} "  # noqa: S608  # nosec B608 - names from the model, values bound
                    f"WHERE {conditions}")
        self.count_sql = (f"SELECT COUNT(*) FROM (SELECT 1 FROM {quote(meta.db_table)} "  # noqa: S608  # nosec B608 - as above
                          f"WHERE {conditions} LIMIT %s) AS matching")
        columns = [field.get_col(meta.db_table) for field in fields]
        self.converters = [
            (index, column, converters) for index, column in enumerate(columns)
            if (converters := connection.ops.get_db_converters(column) + column.get_db_converters(connection))
        ]

    def bound(self, values: list[Any], connection: Any) -> list[Any]:
        """``values`` as the database takes them, one per condition."""
        return [field.get_db_prep_value(value, connection) for field, value in zip(self.where_fields, values, strict=True)]

    def instance(self, row: tuple[Any, ...], connection: Any) -> Any:
        values = list(row)
        for index, column, converters in self.converters:
            for convert in converters:
                values[index] = convert(values[index], column, connection)
        return self.model.from_db(connection.alias, self.names, values)


# While a wallet that opened the QR code's link connects (a second or two), its page asks this
# often, so that it moves on soon after the connection instead of up to a whole interval later;
# a wallet gone quiet after opening the link is asked about at the usual pace again. In the event
# benchmark every 0.3 s cost two polls more per registration than every 0.5 s for 0.1 s less wait.
CONNECTING_POLL_MS = 500
CONNECTING_SECONDS = 20
# The pages waiting for a connection ask first when the last visitors' wallets connected: the
# median time from the invitation to the connection over the recent registrations, no sooner than
# FIRST_CONNECTION_POLL_MS (a wallet app already open scans the code within a second) and no later
# than the pages' interval (people who scan take longer, and the answers set the pace from then
# on). A question asked before the wallet could have connected tells nothing: in make bench's event
# the wallets connected 1.1 to 1.6 s (medians) after the visitors were let in, and the connection's
# polls per registration fell from 1.9-2.1 (a first question at 1 s) to 1.5-1.7.
FIRST_CONNECTION_POLL_MS = 1000
TYPICAL_SAMPLE = 30
TYPICAL_MINIMUM = 5
TYPICAL_WINDOW = timedelta(minutes=10)
# The median is read at most this often in each cache (one query), not for every page.
TYPICAL_CACHE_SECONDS = 10
TYPICAL_CACHE_KEY = "flow:typical-connection-ms"


def wallet_connecting(registration: Registration, now: datetime) -> bool:
    """Whether a wallet opened the QR code's link lately and has not connected yet."""
    opened = registration.link_opened_at
    return registration.state == State.INVITED and opened is not None and now - opened < timedelta(
        seconds=CONNECTING_SECONDS)


def first_connection_poll_ms() -> int:
    """How soon a page waiting for the wallet's connection asks first (above)."""
    typical = typical_connection_ms() or 0
    return min(max(FIRST_CONNECTION_POLL_MS, typical), max(settings.REGISTERFT_POLL_INTERVAL_MS, FIRST_CONNECTION_POLL_MS))


def typical_connection_ms() -> int | None:
    """The median milliseconds from the invitation to the connection of the last ``TYPICAL_SAMPLE``
    registrations of the last ``TYPICAL_WINDOW`` whose wallets connected; None with fewer than
    ``TYPICAL_MINIMUM``. The one read kept in the cache, for ``TYPICAL_CACHE_SECONDS``."""
    found = cache.get(TYPICAL_CACHE_KEY)
    if found is None:
        spans = [connected - created for created, connected in Registration.objects.filter(
            created_at__gte=timezone.now() - TYPICAL_WINDOW, connected_at__isnull=False,
        ).order_by("-created_at").values_list("created_at", "connected_at")[:TYPICAL_SAMPLE]]
        found = round(statistics.median(spans).total_seconds() * 1000) if len(spans) >= TYPICAL_MINIMUM else -1
        cache.set(TYPICAL_CACHE_KEY, found, TYPICAL_CACHE_SECONDS)
    return found if found >= 0 else None


def registration_invitation_expires_at(registration: Registration) -> datetime:
    return registration.created_at + timedelta(seconds=settings.REGISTERFT_INVITATION_TTL)


def registration_offer_expires_at(registration: Registration) -> datetime | None:
    if registration.offered_at is None:
        return None
    return registration.offered_at + timedelta(seconds=settings.REGISTERFT_OFFER_TTL)


def offer_payload(*, registration: Registration) -> dict[str, Any] | None:
    """The OpenID4VCI credential offer that the offer's short link serves to a wallet (offer by
    reference); None when the registration's offer link carries none (the demo's page)."""
    return credential_offer_json(registration.invitation_url)


def registration_completed_in(session: Mapping[str, Any]) -> bool:
    return bool(session.get(DONE_SESSION_KEY))


def invitation_payload(*, registration: Registration) -> dict[str, Any] | None:
    """The invitation message carried in the invitation URL's ``oob`` (or ``c_i``) parameter, for
    a wallet that asks the short link for JSON; None when the URL carries none."""
    return invitation_message(registration.invitation_url)


def invitation_message(url: str) -> dict[str, Any] | None:
    """The invitation message an invitation URL carries (the visitors' and the door's short links
    serve it to a wallet that asks for JSON); None when it carries none or an unreadable one."""
    encoded = invitation_oob(url)
    if not encoded:
        return None
    try:
        decoded = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        payload = json.loads(decoded)
    except (binascii.Error, ValueError):
        logger.warning("an invitation URL carries an unreadable invitation")
        return None
    return payload if isinstance(payload, dict) else None
