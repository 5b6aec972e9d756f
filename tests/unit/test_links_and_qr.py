"""The "open in wallet" link, absolute links for phones, the QR code drawn once, the demo banner."""

from __future__ import annotations

import re

import pytest
from django.test import RequestFactory

from onboarding import qr
from onboarding.links import absolute_url, wallet_link

INVITATION = "https://agent.example.org:8030?oob=eyJAdHlwZSI6ICJpbnZpdGF0aW9uIn0"


@pytest.fixture
def request_from_phone():
    return RequestFactory().get("/", HTTP_HOST="192.168.1.20:8000")


def test_links_in_qr_codes_use_the_host_the_page_was_opened_on(request_from_phone, settings):
    settings.REGISTERFT_PUBLIC_URL = ""
    assert absolute_url(request_from_phone, "/i/abc") == "http://192.168.1.20:8000/i/abc"
    assert absolute_url(request_from_phone, INVITATION) == INVITATION


def test_the_public_url_setting_wins_over_the_requested_host(request_from_phone, settings):
    settings.REGISTERFT_PUBLIC_URL = "https://register.example.org"
    assert absolute_url(request_from_phone, "/i/abc") == "https://register.example.org/i/abc"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{url}", INVITATION),
        ("didcomm://invite?oob={oob}", "didcomm://invite?oob=eyJAdHlwZSI6ICJpbnZpdGF0aW9uIn0"),
        ("https://wallet.example/open?u={url_quoted}",
         "https://wallet.example/open?u=https%3A%2F%2Fagent.example.org%3A8030%3Foob%3DeyJAdHlwZSI6ICJpbnZpdGF0aW9uIn0"),
    ],
)
def test_the_wallet_link_fills_in_the_configured_scheme(request_from_phone, settings, template, expected):
    settings.REGISTERFT_WALLET_LINK = template
    assert wallet_link(request_from_phone, INVITATION) == expected


def test_a_scheme_that_needs_an_oob_parameter_falls_back_to_the_plain_url(request_from_phone, settings):
    settings.REGISTERFT_WALLET_LINK = "didcomm://invite?oob={oob}"
    assert wallet_link(request_from_phone, "https://agent.example.org/invite/42") == "https://agent.example.org/invite/42"


def test_a_qr_code_is_drawn_once_and_then_served_from_the_cache(monkeypatch):
    drawn = []
    real_draw = qr._draw
    monkeypatch.setattr(qr, "_draw", lambda text: drawn.append(text) or real_draw(text))
    first = qr.qr_svg("https://register.example.org/i/abc")
    again = qr.qr_svg("https://register.example.org/i/abc")
    other = qr.qr_svg("https://register.example.org/i/xyz")
    assert first == again and first.startswith("<svg") and other != first
    assert drawn == ["https://register.example.org/i/abc", "https://register.example.org/i/xyz"]


@pytest.mark.django_db
def test_every_page_says_so_in_demo_mode_and_no_page_says_it_otherwise(client, settings):
    settings.REGISTERFT_ISSUERS = ("demo",)
    for path in ("/", "/help/", "/privacy/", "/no/such/page"):
        assert re.search(r'class="demo-banner"', client.get(path).content.decode()), path
    settings.REGISTERFT_ISSUERS = ("agent-rest",)
    assert 'class="demo-banner"' not in client.get("/privacy/").content.decode()
