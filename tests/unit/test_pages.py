"""The visitor's side pages (help, privacy, the event's colours) and the start and waiting pages'
expiry and "start again" features, through Django's test client."""

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from onboarding.models import Registration

pytestmark = pytest.mark.django_db


def test_the_help_page_lists_the_configured_wallet_apps_with_store_links(client, settings):
    settings.REGISTERFT_WALLET_APPS = [
        {"name": "Example Wallet", "ios": "https://apps.example/ios", "android": "https://apps.example/android"}
    ]
    page = client.get("/help/").content.decode()
    assert "Example Wallet" in page
    assert 'href="https://apps.example/ios"' in page and 'href="https://apps.example/android"' in page
    assert page.count("<h1") == 1


def test_the_help_page_without_apps_says_whom_to_ask(client, settings):
    settings.REGISTERFT_WALLET_APPS = []
    settings.LANGUAGE_CODE = "en"
    assert "ask the organisers" in client.get("/help/").content.decode()


def test_the_start_page_links_to_the_help_page(client):
    assert 'href="/help/"' in client.get("/").content.decode()


def test_the_privacy_notice_names_the_fields_the_issuer_and_the_retention(client, settings):
    settings.LANGUAGE_CODE = "en"
    settings.REGISTERFT_PRIVACY_RETENTION_DAYS = 14
    settings.REGISTERFT_PRIVACY_CONTROLLER = "Example Conference"
    settings.REGISTERFT_PRIVACY_CONTACT = "privacy@example.org"
    page = client.get("/privacy/").content.decode()
    assert "First name" in page and "Institution" in page
    assert "Example Conference" in page
    assert "14 days" in page
    assert "privacy@example.org" in page


def test_the_details_form_links_to_the_privacy_notice(client):
    client.get("/")
    registration = Registration.objects.get()
    Registration.objects.filter(pk=registration.pk).update(state=Registration.State.CONNECTED, connected_at=timezone.now())
    assert 'href="/privacy/"' in client.get("/name").content.decode()


def test_the_brand_stylesheet_carries_the_configured_colours(client, settings):
    settings.REGISTERFT_BRAND_COLOUR = "#123456"
    response = client.get("/brand.css")
    assert response["Content-Type"].startswith("text/css")
    assert "--brand: #123456;" in response.content.decode()
    assert 'href="/brand.css"' in client.get("/help/").content.decode()


def test_the_default_colours_need_no_extra_stylesheet(client):
    assert "/brand.css" not in client.get("/help/").content.decode()


def test_a_configured_logo_appears_in_the_header(client, settings):
    settings.REGISTERFT_EVENT_LOGO = "/static/onboarding/img/favicon.svg"
    assert '<img class="event-logo" src="/static/onboarding/img/favicon.svg" alt="">' in client.get("/help/").content.decode()


@pytest.mark.parametrize(
    ("value", "message"),
    [("red; background: url(x)", "#rrggbb"), ("#ffcc00", "contrast of 1.51:1"), ("#777777", "contrast of 4.48:1")],
)
def test_a_bad_or_unreadable_brand_colour_stops_start_up(monkeypatch, value, message):
    """Buttons carry white text on the brand colour: it must pass WCAG AA (4.5:1)."""
    import importlib

    import registerft.settings

    monkeypatch.setenv("DJANGO_DEBUG", "1")
    monkeypatch.setenv("REGISTERFT_BRAND_COLOUR", value)
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        importlib.reload(registerft.settings)
    monkeypatch.delenv("REGISTERFT_BRAND_COLOUR")
    importlib.reload(registerft.settings)


@pytest.mark.parametrize(("colour", "ratio"), [("#000000", 21.0), ("#ffffff", 1.0), ("#0b5394", 7.84), ("#767676", 4.54)])
def test_the_contrast_with_white_follows_wcag(colour, ratio):
    from registerft.env import contrast_with_white

    assert contrast_with_white(colour) == pytest.approx(ratio, abs=0.05)


def test_the_start_page_tells_when_the_code_runs_out_and_has_a_hidden_fresh_qr_action(client, settings):
    settings.REGISTERFT_INVITATION_TTL = 600
    page = client.get("/").content.decode()
    expires_in = int(re.search(r'data-expires-in="(\d+)"', page).group(1))
    assert 590_000 < expires_in <= 600_000
    assert re.search(r'<p class="fresh-qr" data-fresh-qr hidden>\s*<a class="button primary" href="/">', page)


def test_a_visitor_whose_invitation_expired_gets_a_fresh_one_on_reload(client, settings):
    client.get("/")
    first = Registration.objects.get()
    Registration.objects.filter(pk=first.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.REGISTERFT_INVITATION_TTL + 1)
    )
    assert client.get("/check_connection/status").json()["state"] == "failed"
    page = client.get("/").content.decode()
    second = Registration.objects.exclude(pk=first.pk).get()
    assert second.short_code in page


def test_a_waiting_page_without_progress_offers_start_again_prominently(client, settings):
    settings.REGISTERFT_STUCK_AFTER = 60
    client.get("/")
    fresh = client.get("/check_connection/").content.decode()
    assert re.search(r'data-stuck-in="(\d+)"', fresh).group(1) != "0"
    assert re.search(r'<div class="stuck-help" data-stuck-help\s+hidden>', fresh)

    Registration.objects.update(created_at=timezone.now() - timedelta(seconds=61))
    stuck = client.get("/check_connection/").content.decode()
    assert 'data-stuck-in="0"' in stuck
    assert re.search(r'<div class="stuck-help" data-stuck-help\s*>', stuck)
    assert re.search(r'class="secondary-action" data-not-stuck\s+hidden', stuck)


def test_a_phones_browser_gets_the_wallet_button_first_whatever_its_width(client):
    tablet = "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
    assert 'class="start-layout on-mobile"' in client.get("/", HTTP_USER_AGENT=tablet).content.decode()


def test_a_desktop_browser_gets_the_qr_code_first(client):
    desktop = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36"
    assert 'class="start-layout" data-invitation' in client.get("/", HTTP_USER_AGENT=desktop).content.decode()


def test_a_template_folder_from_the_environment_overrides_the_portals_templates(monkeypatch, tmp_path, client, settings):
    """REGISTERFT_TEMPLATE_DIR comes first in the template search: an event's own privacy notice."""
    import importlib

    import registerft.settings

    (tmp_path / "onboarding").mkdir()
    (tmp_path / "onboarding" / "privacy.html").write_text(
        '{% extends "base.html" %}{% block content %}<h1>Our own notice</h1>{% endblock %}'
    )
    monkeypatch.setenv("DJANGO_DEBUG", "1")
    monkeypatch.setenv("REGISTERFT_TEMPLATE_DIR", str(tmp_path))
    try:
        reloaded = importlib.reload(registerft.settings)
        assert reloaded.TEMPLATES[0]["DIRS"][0] == tmp_path
    finally:
        monkeypatch.delenv("REGISTERFT_TEMPLATE_DIR")
        importlib.reload(registerft.settings)

    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    assert "<h1>Our own notice</h1>" in client.get("/privacy/").content.decode()
