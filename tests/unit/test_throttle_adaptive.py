"""The line's adaptive limit: slow calls to the agent bring it down, fast ones raise it again up to
REGISTERFT_MAX_IN_PROGRESS (its ceiling), and the line never lets in more than the limit of the
moment, however many processes admit at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from onboarding import adaptive, throttle
from onboarding.issuers.base import IssuerRejected, IssuerTimeout
from onboarding.models import Lease
from tests.processes import run_at_once, shared_database

pytestmark = pytest.mark.django_db

CEILING = 6


@pytest.fixture(autouse=True)
def ceiling(settings):
    settings.REGISTERFT_ISSUERS = ("demo",)
    settings.REGISTERFT_MAX_IN_PROGRESS = CEILING
    settings.REGISTERFT_IN_PROGRESS_HOLD = 30
    adaptive._baselines.clear()
    yield
    adaptive._baselines.clear()


def call(seconds: float, *, ok: bool = True, operation: str = "create_invitation", at=None) -> None:
    adaptive.limit_observe(operation=operation, seconds=seconds, ok=ok, ceiling=CEILING, now=at)


def test_it_starts_at_the_ceiling():
    assert throttle.line_limit() == CEILING


def test_a_call_much_slower_than_the_agent_without_load_cuts_the_limit_by_a_quarter():
    call(0.05)
    call(0.06)
    call(0.8)
    assert throttle.line_limit() == 4  # 6 * 0.75, rounded down


def test_after_a_cut_new_visitors_still_start_up_to_the_lower_limit():
    call(0.05)
    call(0.8)
    call(0.8, at=timezone.now() + timedelta(seconds=5))
    stored = Lease.objects.get(key=adaptive.LIMIT_KEY).count
    assert isinstance(stored, int) and stored == CEILING * adaptive.SCALE * 9 // 16
    assert throttle.line_limit() == 3
    assert isinstance(throttle.line_limit(), int)
    for _ in range(3):
        assert Client().get("/").status_code == 200


def test_calls_within_the_agents_usual_latency_change_nothing():
    for seconds in (0.05, 0.07, 0.09, 0.1, 0.12):
        call(seconds)
    assert throttle.line_limit() == CEILING


def test_a_fast_agents_jitter_below_the_floor_is_not_a_queue():
    call(0.01)
    call(0.1)  # ten times slower, but still fast
    assert throttle.line_limit() == CEILING


def test_the_calls_of_one_queue_cut_the_limit_once_per_round_trip():
    now = timezone.now()
    call(0.05, at=now)
    for _ in range(5):
        call(1.5, at=now)
    assert throttle.line_limit() == 4
    call(1.5, at=now + timedelta(seconds=2))
    assert throttle.line_limit() == 3


def test_fast_calls_raise_the_limit_again_one_place_per_limits_worth_up_to_the_ceiling():
    adaptive.limit_set(places=2)
    call(0.05)
    call(0.05)
    assert throttle.line_limit() == 3
    for _ in range(50):
        call(0.05)
    assert throttle.line_limit() == CEILING


def test_the_limit_never_goes_below_one_place():
    now = timezone.now()
    call(0.05, at=now)
    for second in range(20):
        call(3.0, at=now + timedelta(seconds=5 * second))
    assert throttle.line_limit() == 1


def test_a_call_the_agent_did_not_answer_cuts_the_limit_but_a_refusal_does_not():
    with pytest.raises(IssuerRejected), throttle.issuer_call(backend="demo", operation="create_invitation"):
        raise IssuerRejected("no", http_status=400)
    assert throttle.line_limit() == CEILING
    with pytest.raises(IssuerTimeout), throttle.issuer_call(backend="demo", operation="create_invitation"):
        raise IssuerTimeout("slow")
    assert throttle.line_limit() == 4


def test_calls_outside_the_flow_do_not_move_the_limit():
    call(0.05, operation="health")
    call(5.0, operation="health")
    assert throttle.line_limit() == CEILING


@pytest.fixture
def limit_held(monkeypatch):
    """The limit stays where the test sets it (the demo issuer's fast calls would raise it)."""
    monkeypatch.setattr(adaptive, "limit_observe", lambda **_kwargs: None)


def test_the_line_lets_in_no_more_than_the_current_limit(limit_held):
    adaptive.limit_set(places=2)
    pages = [Client().get("/").content.decode() for _ in range(4)]
    assert sum("<svg" in page for page in pages) == 2
    assert throttle.places_held() == 2


def test_a_lower_limit_holds_newcomers_back_until_the_places_above_it_are_given_back(limit_held):
    for _ in range(4):
        Client().get("/")
    adaptive.limit_set(places=3)
    assert "<svg" not in Client().get("/").content.decode()


ADMITTING_WORKER = """
import django
django.setup()
from onboarding.throttle import Admitted, line_admit, line_limit
assert line_limit() == 3, line_limit()
print(sum(isinstance(line_admit(session={}, address='192.0.2.1', holder=str(n)), Admitted) for n in range(10)))
"""


@pytest.mark.timeout(180)
def test_worker_processes_together_never_admit_more_than_the_current_limit(tmp_path):
    """Four processes let 40 new visitors in at once against one database whose limit has come
    down to 3 (from a ceiling of 8): 3 start, the rest wait."""
    env = shared_database(tmp_path, REGISTERFT_MAX_IN_PROGRESS="8")
    set_limit = "import django; django.setup(); from onboarding import adaptive; adaptive.limit_set(places=3); print(0)"
    run_at_once(set_limit, env, processes=1)
    outputs = run_at_once(ADMITTING_WORKER, env)
    assert sum(int(out) for out in outputs) == 3


def test_metrics_show_the_limit_the_places_held_and_the_length_of_the_line(client, settings, limit_held):
    settings.REGISTERFT_METRICS = True
    adaptive.limit_set(places=1)
    Client().get("/")
    Client().get("/")
    text = client.get("/metrics").content.decode()
    assert "registerft_line_limit 1.0" in text
    assert "registerft_line_places_held 1.0" in text
    assert "registerft_line_length 1.0" in text
    assert "registerft_line_wait_seconds_count" in text
