"""The throttle's bound on the portal's calls to the issuer agent in flight, shared through the
database."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import responses
from django.db import connection
from django.utils import timezone

from onboarding import leases
from onboarding.issuers.base import IssuerUnavailable
from onboarding.throttle import issuer_call
from onboarding.issuers import get_issuer
from onboarding.models import Lease, Registration
from tests.processes import run_at_once, shared_database

pytestmark = pytest.mark.django_db

AGENT = "http://agent.test"


@pytest.fixture(autouse=True)
def bound(settings):
    settings.REGISTERFT_MAX_ISSUER_CALLS = 2
    settings.REGISTERFT_ISSUER_TIMEOUT = 0.3


def test_calls_up_to_the_bound_go_at_once_and_the_next_waits_then_gives_up():
    with issuer_call(backend="test", operation="test"), issuer_call(backend="test", operation="test"):
        assert Lease.objects.filter(key__startswith="call:", until__isnull=False).count() == 2
        with pytest.raises(IssuerUnavailable):
            with issuer_call(backend="test", operation="test"):
                pass
    assert not Lease.objects.filter(key__startswith="call:", until__isnull=False).exists()
    with issuer_call(backend="test", operation="test"):
        pass


def test_a_slot_whose_holder_died_is_free_once_its_lease_ran_out():
    with issuer_call(backend="test", operation="test"):
        pass
    Lease.objects.filter(key__startswith="call:").update(until=timezone.now() - timedelta(seconds=1), holder="dead")
    with issuer_call(backend="test", operation="test"), issuer_call(backend="test", operation="test"):
        assert set(Lease.objects.filter(key__startswith="call:").values_list("holder", flat=True)) != {"dead"}


def test_without_a_bound_no_slot_is_taken(settings):
    settings.REGISTERFT_MAX_ISSUER_CALLS = 0
    with issuer_call(backend="test", operation="test"), issuer_call(backend="test", operation="test"), issuer_call(backend="test", operation="test"):
        assert not Lease.objects.exists()


def test_a_visitor_arriving_while_every_slot_is_busy_gets_the_issuer_page_and_nothing_is_lost(client, settings):
    settings.REGISTERFT_ISSUERS = ("agent-rest",)
    settings.AGENT_REST_CONNECTION_URL = settings.AGENT_REST_ISSUER_URL = AGENT
    get_issuer.cache_clear()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as agent:
        with issuer_call(backend="test", operation="test"), issuer_call(backend="test", operation="test"):
            busy = client.get("/")
        agent.post(f"{AGENT}/connection/invitation", json={"connectionId": "c-1", "invitationUrl": f"{AGENT}/?oob=e30"})
        later = client.get(busy.content.decode().split('data-retry-url="')[1].split('"')[0])
    assert busy.status_code == 503 and "data-retry-in" in busy.content.decode()
    assert later.status_code == 200 and Registration.objects.count() == 1


HOLDING_WORKER = """
import json, time
import django
django.setup()
from onboarding.throttle import issuer_call
spans = []
for _ in range(4):
    with issuer_call(backend="test", operation="test"):
        start = time.time()
        time.sleep(0.15)
        spans.append((start, time.time()))
print(json.dumps(spans))
"""


@pytest.mark.timeout(180)
def test_worker_processes_together_never_hold_more_calls_than_the_bound(tmp_path):
    env = shared_database(tmp_path, REGISTERFT_MAX_ISSUER_CALLS="2", REGISTERFT_ISSUER_TIMEOUT="10")
    spans = [span for out in run_at_once(HOLDING_WORKER, env, processes=4) for span in json.loads(out)]
    assert len(spans) == 16
    most = max(sum(start <= moment < end for start, end in spans) for moment, _end in spans)
    assert most <= 2
    assert most == 2  # the processes did overlap: the bound, not chance, kept them apart


def test_a_release_frees_only_the_holders_own_leases_among_those_named(django_assert_num_queries):
    now = timezone.now()
    for holder, key in (("a", "slot:1"), ("a", "slot:2"), ("b", "slot:3"), ("a", "slot:4")):
        assert leases.lease_take([key], holder=holder, seconds=60, now=now) == key
    with django_assert_num_queries(1):
        assert leases.lease_release(["slot:1", "slot:2", "slot:3"], holder="a") == 2
    rows = {lease.key: (lease.holder, lease.until) for lease in Lease.objects.all()}
    assert rows["slot:1"] == rows["slot:2"] == ("", None)
    assert rows["slot:3"][0] == "b" and rows["slot:4"][0] == "a"  # another's, and one not named
    assert leases.lease_release(["slot:1"], holder="a") == 0
    with django_assert_num_queries(0):
        assert leases.lease_release([], holder="a") == 0


@pytest.mark.parametrize("returning", [True, False], ids=["one-statement", "select-then-update"])
def test_a_lease_is_taken_by_one_holder_until_it_runs_out(returning, monkeypatch, django_assert_num_queries):
    monkeypatch.setattr(type(connection.features), "can_return_rows_from_bulk_insert", returning)
    now = timezone.now()
    keys = ["slot:1", "slot:2"]
    first = leases.lease_take(keys, holder="a", seconds=10, now=now)
    second = leases.lease_take(keys, holder="b", seconds=10, now=now)
    assert {first, second} == set(keys)
    assert leases.lease_take(keys, holder="c", seconds=10, now=now) is None
    leases.lease_release(keys, holder="b")
    with django_assert_num_queries(1 if returning else 2):
        assert leases.lease_take(keys, holder="d", seconds=10, now=now) == second
    assert leases.lease_take(keys, holder="e", seconds=10, now=now + timedelta(seconds=5)) is None
    assert leases.lease_take(keys, holder="e", seconds=10, now=now + timedelta(seconds=11)) in keys
