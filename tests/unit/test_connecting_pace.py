"""While a wallet connects, the page waiting for it asks often: a wallet opening the QR code's
link (/i/<code>) is noted, and the connection status tells the page to ask again soon, so that it
moves on soon after the connection instead of up to a whole poll interval later."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from onboarding.models import DemoConnection, Registration
from onboarding.selectors import (
    CONNECTING_POLL_MS,
    CONNECTING_SECONDS,
    FIRST_CONNECTION_POLL_MS,
    TYPICAL_MINIMUM,
    TYPICAL_SAMPLE,
    TYPICAL_WINDOW,
)
from tests.unit.test_flow_guards import invited, visitor  # noqa: F401 - the English visitor fixture

pytestmark = pytest.mark.django_db

CONNECTING = "Your wallet opened the invitation. Connecting…"


def wallet_opens(registration: Registration, **headers) -> int:
    """The wallet (no cookies of the visitor's) opens the QR code's short link."""
    return Client().get(f"/i/{registration.short_code}", **headers).status_code


def status(visitor) -> dict:
    return visitor.get("/check_connection/status").json()


def test_before_the_wallet_opens_the_link_the_page_keeps_its_own_pace(visitor):
    invited(visitor)
    answer = status(visitor)
    assert answer["state"] == "waiting"
    assert "poll_after_ms" not in answer
    assert answer["message"] == ""


@pytest.mark.parametrize("accept", ["text/html", "application/json"])
def test_a_wallet_opening_the_link_makes_the_page_ask_often_and_say_so(visitor, settings, accept):
    registration = invited(visitor)
    assert wallet_opens(registration, HTTP_ACCEPT=accept) in (200, 302)
    answer = status(visitor)
    assert answer["state"] == "waiting"
    assert answer["poll_after_ms"] == CONNECTING_POLL_MS < settings.REGISTERFT_POLL_INTERVAL_MS
    assert answer["message"] == CONNECTING


def test_the_link_opened_is_noted_once(visitor, clock):
    registration = invited(visitor)
    wallet_opens(registration)
    first = Registration.objects.get(pk=registration.pk).link_opened_at
    clock.advance(5)
    wallet_opens(registration)
    assert first is not None
    assert Registration.objects.get(pk=registration.pk).link_opened_at == first


def test_a_wallet_quiet_after_opening_the_link_is_asked_about_at_the_usual_pace_again(visitor, clock, settings):
    registration = invited(visitor)
    wallet_opens(registration)
    clock.advance(CONNECTING_SECONDS - 1)
    assert status(visitor)["poll_after_ms"] == CONNECTING_POLL_MS
    clock.advance(2)
    answer = status(visitor)
    # Said outright: the page keeps the last pace and message it was told.
    assert answer["poll_after_ms"] == settings.REGISTERFT_POLL_INTERVAL_MS
    assert answer["message"] == "Waiting for your wallet to connect…"


def test_a_connected_wallet_moves_the_page_on(visitor):
    registration = invited(visitor)
    wallet_opens(registration)
    DemoConnection.objects.filter(pk=registration.connection_id).update(state=DemoConnection.State.ACTIVE)
    answer = status(visitor)
    assert answer["next"] == "/name"
    assert "poll_after_ms" not in answer


def test_an_expired_link_opened_is_not_noted(visitor, clock, settings):
    registration = invited(visitor)
    clock.advance(settings.REGISTERFT_INVITATION_TTL + 1)
    assert wallet_opens(registration) == 410
    assert Registration.objects.get(pk=registration.pk).link_opened_at is None


def test_a_pace_set_faster_is_never_made_slower_while_the_wallet_connects(visitor, settings):
    settings.REGISTERFT_POLL_INTERVAL_MS = 200
    registration = invited(visitor)
    wallet_opens(registration)
    answer = status(visitor)
    assert answer["poll_after_ms"] == 200
    assert answer["message"] == CONNECTING


def first_poll(page: str) -> int | None:
    found = re.search(r'data-poll-first="(\d+)"', page)
    return int(found.group(1)) if found else None


def past_visitors(*spans: float, ago: float = 60) -> None:
    """Registrations made ``ago`` seconds back whose wallets connected ``spans`` seconds after the
    invitation (None: not connected)."""
    made = timezone.now() - timedelta(seconds=ago)
    for number, span in enumerate(spans):
        registration = Registration.objects.create(backend="demo", invitation_id=f"past-{number}",
                                                   invitation_url="https://example.org/past")
        connected_at = None if span is None else made + timedelta(seconds=span)
        Registration.objects.filter(pk=registration.pk).update(created_at=made, connected_at=connected_at)


def test_the_pages_waiting_for_the_wallet_ask_first_within_a_second_without_recent_connections(visitor):
    assert first_poll(visitor.get("/").content.decode()) == FIRST_CONNECTION_POLL_MS
    assert first_poll(visitor.get("/check_connection/").content.decode()) == FIRST_CONNECTION_POLL_MS


def test_the_pages_ask_first_when_the_last_visitors_wallets_connected(visitor):
    past_visitors(1.1, 1.2, 1.3, 1.3, 1.4, 1.6, 2.0)
    assert first_poll(visitor.get("/").content.decode()) == 1300
    assert first_poll(visitor.get("/check_connection/").content.decode()) == 1300


def test_wallets_connecting_faster_than_a_second_leave_the_first_question_at_a_second(visitor):
    past_visitors(*[0.4] * TYPICAL_MINIMUM)
    assert first_poll(visitor.get("/").content.decode()) == FIRST_CONNECTION_POLL_MS


def test_people_scanning_slowly_are_asked_about_first_at_the_pages_interval(visitor, settings):
    past_visitors(*[25.0] * TYPICAL_MINIMUM)
    assert first_poll(visitor.get("/").content.decode()) == settings.REGISTERFT_POLL_INTERVAL_MS


def test_the_median_takes_only_recent_connections_and_enough_of_them(visitor):
    past_visitors(*[1.4] * (TYPICAL_MINIMUM - 1))
    past_visitors(*[1.4] * TYPICAL_MINIMUM, ago=TYPICAL_WINDOW.total_seconds() + 60)
    past_visitors(None, None, None)
    assert first_poll(visitor.get("/").content.decode()) == FIRST_CONNECTION_POLL_MS


def test_the_median_is_of_the_latest_connections(visitor):
    past_visitors(*[1.2] * TYPICAL_SAMPLE, ago=60)
    past_visitors(*[1.45] * TYPICAL_SAMPLE, ago=300)
    assert first_poll(visitor.get("/").content.decode()) == 1200


def test_the_page_waiting_for_the_credential_asks_at_its_interval(visitor):
    registration = invited(visitor)
    DemoConnection.objects.filter(pk=registration.connection_id).update(state=DemoConnection.State.ACTIVE)
    assert status(visitor)["next"] == "/name"
    visitor.post("/name", {"first_name": "Ada", "last_name": "Lovelace", "institution": "Engines"})
    page = visitor.get("/loading/")
    assert page.status_code == 200
    assert 'data-poll-url="/loading/status"' in page.content.decode()
    assert first_poll(page.content.decode()) is None
