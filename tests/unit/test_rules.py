"""The flow's small shared rules: when a waiting visitor counts as stuck."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from onboarding import offers
from onboarding.models import Registration
from onboarding.rules import registration_stuck_at
from onboarding.templatetags.portal import stuck_in_ms

START = datetime(2025, 5, 1, 9, 0, tzinfo=UTC)


def registration(**moments) -> Registration:
    """An unsaved registration created at START (the rule reads nothing from the database)."""
    return Registration(created_at=START, **moments)


@pytest.mark.parametrize(
    ("moments", "last_progress"),
    [
        ({}, START),
        ({"connected_at": START + timedelta(seconds=40)}, START + timedelta(seconds=40)),
        (
            {"connected_at": START + timedelta(seconds=40), "offered_at": START + timedelta(seconds=70)},
            START + timedelta(seconds=70),
        ),
    ],
)
def test_a_visitor_is_stuck_the_set_time_after_the_last_progress(settings, moments, last_progress):
    settings.REGISTERFT_STUCK_AFTER = 90
    assert registration_stuck_at(registration(**moments)) == last_progress + timedelta(seconds=90)


def test_the_waiting_page_and_the_second_offer_agree_on_when_a_visitor_is_stuck(settings, clock):
    settings.REGISTERFT_STUCK_AFTER = 60
    clock.current = START
    offered = registration(
        state=Registration.State.OFFERED,
        connected_at=START,
        offered_at=START + timedelta(seconds=10),
    )
    clock.advance(69)
    assert stuck_in_ms(offered) == 1000
    assert not offers.credential_offer_due_again(offered)
    clock.advance(1)
    assert stuck_in_ms(offered) == 0
    assert offers.credential_offer_due_again(offered)
