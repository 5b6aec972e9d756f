"""The registration window: outside it the start page says so and creates nothing at the issuer."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.utils import timezone

from onboarding.window import WindowState, registration_window
from onboarding.models import DemoConnection, Registration

pytestmark = pytest.mark.django_db


def test_a_visitor_before_the_opening_is_told_when_it_opens(client, settings):
    settings.REGISTERFT_OPEN_FROM = timezone.now() + timedelta(days=2)
    response = client.get("/", HTTP_COOKIE="django_language=en")
    page = response.content.decode()
    assert response.status_code == 200
    assert "Registration has not opened yet" in page
    assert str(timezone.localtime(settings.REGISTERFT_OPEN_FROM).year) in page
    assert not Registration.objects.exists()
    assert not DemoConnection.objects.exists()


def test_a_visitor_after_the_closing_is_told_politely(client, settings):
    settings.REGISTERFT_OPEN_UNTIL = timezone.now() - timedelta(minutes=1)
    response = client.get("/", HTTP_COOKIE="django_language=en")
    assert response.status_code == 200
    assert "Registration is closed" in response.content.decode()
    assert not Registration.objects.exists()
    assert not DemoConnection.objects.exists()


def test_a_visitor_inside_the_window_gets_an_invitation(client, settings):
    settings.REGISTERFT_OPEN_FROM = timezone.now() - timedelta(hours=1)
    settings.REGISTERFT_OPEN_UNTIL = timezone.now() + timedelta(hours=1)
    assert "<svg" in client.get("/").content.decode()
    assert Registration.objects.count() == 1


def test_the_window_is_open_without_settings(settings):
    assert registration_window().state == WindowState.OPEN


def test_the_window_closes_exactly_at_its_end(settings):
    end = datetime(2026, 5, 4, 18, 0, tzinfo=dt_timezone.utc)
    settings.REGISTERFT_OPEN_UNTIL = end
    assert registration_window(now=end - timedelta(seconds=1)).is_open
    assert registration_window(now=end).state == WindowState.CLOSED


def load_settings(**env: str) -> subprocess.CompletedProcess:
    """Import the settings in a fresh interpreter, as the portal does at start."""
    code = (
        "import registerft.settings as s; "
        "print(s.REGISTERFT_OPEN_FROM.utcoffset(), s.REGISTERFT_OPEN_UNTIL.utcoffset())"
    )
    environment = {**os.environ, "DJANGO_DEBUG": "1", **env}
    return subprocess.run(
        [sys.executable, "-c", code], env=environment, cwd=settings_module_dir(), capture_output=True,
        text=True, timeout=60,
    )


def settings_module_dir() -> str:
    import registerft

    return os.path.dirname(os.path.dirname(registerft.__file__))


def test_a_bad_opening_time_fails_at_start_naming_the_variable(monkeypatch):
    result = load_settings(REGISTERFT_OPEN_FROM="next monday")
    assert result.returncode != 0
    assert "ImproperlyConfigured: REGISTERFT_OPEN_FROM must be an ISO date-time" in result.stderr


def test_a_window_that_closes_before_it_opens_fails_at_start(monkeypatch):
    result = load_settings(REGISTERFT_OPEN_FROM="2026-05-04T18:00", REGISTERFT_OPEN_UNTIL="2026-05-04T09:00")
    assert result.returncode != 0
    assert "REGISTERFT_OPEN_FROM must be earlier than REGISTERFT_OPEN_UNTIL" in result.stderr


def test_window_times_without_a_zone_are_in_the_portals_time_zone(monkeypatch):
    result = load_settings(
        REGISTERFT_OPEN_FROM="2026-05-04T09:00", REGISTERFT_OPEN_UNTIL="2026-05-04T18:00+00:00", DJANGO_TIME_ZONE="Europe/Zurich"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["2:00:00", "0:00:00"]  # Zurich in summer; the named zone kept


def test_the_closed_page_speaks_the_visitors_language(client, settings):
    settings.REGISTERFT_OPEN_UNTIL = timezone.now() - timedelta(minutes=1)
    assert "Die Registrierung ist geschlossen" in client.get("/").content.decode()  # German by default
