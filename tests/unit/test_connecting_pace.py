"""While a wallet connects, the page waiting for it asks often: a wallet opening the QR code's
link (/i/<code>) is noted, and the connection status tells the page to ask again soon, so that it
moves on soon after the connection instead of up to a whole poll interval later."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from onboarding.models import DemoConnection, Registration
from onboarding.selectors import CONNECTING_POLL_MS, CONNECTING_SECONDS, FIRST_CONNECTION_POLL_MS
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


def test_the_pages_waiting_for_the_wallet_ask_first_within_a_second(visitor):
    assert first_poll(visitor.get("/").content.decode()) == FIRST_CONNECTION_POLL_MS
    assert first_poll(visitor.get("/check_connection/").content.decode()) == FIRST_CONNECTION_POLL_MS


def test_the_page_waiting_for_the_credential_asks_at_its_interval(visitor):
    registration = invited(visitor)
    DemoConnection.objects.filter(pk=registration.connection_id).update(state=DemoConnection.State.ACTIVE)
    assert status(visitor)["next"] == "/name"
    visitor.post("/name", {"first_name": "Ada", "last_name": "Lovelace", "institution": "Engines"})
    page = visitor.get("/loading/")
    assert page.status_code == 200
    assert 'data-poll-url="/loading/status"' in page.content.decode()
    assert first_poll(page.content.decode()) is None
