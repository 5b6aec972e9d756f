"""The reads written out as SQL (selectors.registration_by_pk for every status poll and page, the
line's count of visitors ahead) give what the ORM gives, on every connection."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from onboarding import selectors
from onboarding.models import LineTicket, Registration

pytestmark = pytest.mark.django_db(transaction=True)


def every_field(registration: Registration) -> dict:
    return {field.attname: getattr(registration, field.attname) for field in Registration._meta.concrete_fields}


def test_a_registration_read_by_id_equals_the_orms_field_for_field():
    now = timezone.now()
    registration = Registration.objects.create(
        backend="acapy", invitation_id="inv-1", invitation_url="https://issuer.example/i/1", state="offered",
        connection_id="conn-1", process_id="cx-1", attributes={"first_name": "Zoë", "nested": {"n": [1, 2]}},
        connected_at=now - timedelta(seconds=5), offered_at=now, checked_at=None,
    )
    read = selectors.registration_by_pk(registration.pk)
    assert read is not None and not read._state.adding
    assert every_field(read) == every_field(Registration.objects.get(pk=registration.pk))
    assert read.attributes["first_name"] == "Zoë" and read.checked_at is None and read.offered_at == now


def test_an_unknown_or_malformed_id_reads_nothing():
    assert selectors.registration_by_pk(uuid.uuid4()) is None
    assert selectors.registration_by_pk("not-a-uuid") is None


def test_each_thread_reads_through_its_own_connection():
    registration = Registration.objects.create(backend="demo", invitation_id="inv-2", invitation_url="u")
    found: list[Registration | None] = []
    plans: list[object] = []

    def read() -> None:
        from django.db import connection as thread_connection

        found.append(selectors.registration_by_pk(registration.pk))
        plans.append(getattr(thread_connection, selectors.PLAN_ATTRIBUTE))
        thread_connection.close()

    selectors.registration_by_pk(registration.pk)
    worker = threading.Thread(target=read)
    worker.start()
    worker.join()
    assert [item.pk for item in found if item is not None] == [registration.pk]
    assert plans and plans[0] is not getattr(connection, selectors.PLAN_ATTRIBUTE)


def test_the_lines_count_of_visitors_ahead_equals_the_orms_for_every_ticket_and_cap():
    now = timezone.now()
    second = timedelta(seconds=1)
    # Present or gone, never called, called lately or called long ago: every mix, in line order.
    shapes = [(present, called) for present in (now + 9 * second, now - second, now)
              for called in (None, now - 2 * second, now - 60 * second)]
    tickets = [LineTicket.objects.create(token=f"t{index}", address="192.0.2.1", present_until=present,
                                         called_at=called, expires_at=now + 600 * second)
               for index, (present, called) in enumerate(shapes * 2)]
    grace = now - 5 * second

    def by_the_orm(before: int | None, up_to: int) -> int:
        ahead = LineTicket.objects.filter(present_until__gt=now).filter(Q(called_at__isnull=True) | Q(called_at__gt=grace))
        ahead = ahead if before is None else ahead.filter(id__lt=before)
        return len(ahead.order_by("id").values_list("id", flat=True)[:up_to])

    for before in [None, *(ticket.id for ticket in tickets)]:
        for up_to in (1, 3, 50):
            counted = selectors.line_tickets_ahead(before=before, present_after=now, called_after=grace, up_to=up_to)
            assert counted == by_the_orm(before, up_to), (before, up_to)
    assert selectors.line_tickets_ahead(before=None, present_after=now, called_after=grace, up_to=50) == 4


def test_rows_counted_up_to_a_bound_equal_the_orms_count():
    now = timezone.now()
    for index in range(6):
        LineTicket.objects.create(token=f"a{index}", address="192.0.2.7" if index % 3 else "192.0.2.8",
                                  present_until=now, expires_at=now + timedelta(seconds=index - 2))
    where = (("address", "="), ("expires_at", ">"))
    for address in ("192.0.2.7", "192.0.2.8", "192.0.2.9"):
        alive = LineTicket.objects.filter(address=address, expires_at__gt=now).count()
        for up_to in (1, 2, 10):
            assert selectors.count_where(LineTicket, where, [address, now], up_to=up_to) == min(alive, up_to)
