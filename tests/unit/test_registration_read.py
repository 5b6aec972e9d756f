"""The registration read of every status poll and page (selectors.registration_by_pk) gives what
the ORM gives, field for field, on every connection."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from onboarding import selectors
from onboarding.models import Registration

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
