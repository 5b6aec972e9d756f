"""The "open in wallet" link, absolute links for phones, the QR code drawn once (and read back), the demo
banner."""

from __future__ import annotations

import re

import pytest
import qrcode
from django.test import RequestFactory
from qrcode.util import MODE_8BIT_BYTE, QRData

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



def read_matrix(matrix: list[list[bool]]) -> list[str]:
    """What a scanner reads from the modules drawn four pixels each, black on white."""
    import zxingcpp
    from PIL import Image

    size = len(matrix)
    image = Image.new("L", (size, size), 255)
    image.putdata([0 if dark else 255 for row in matrix for dark in row])
    return [found.text for found in zxingcpp.read_barcodes(image.resize((size * 4, size * 4), Image.NEAREST))]


@pytest.mark.parametrize("length", [1, 13, 14, 26, 42, 43, 62, 84, 85, 106, 134, 154, 180, 213, 251])
def test_a_qr_code_drawn_at_the_version_its_length_needs_reads_back_the_same_text(length):
    # Lengths on both sides of the versions' capacities, digits and capitals too (byte mode always).
    for text in ("https://r.example/i/" + "aZ9-_" * 60)[:length], "7" * length, "HTTPS://R.EXAMPLE/" + "X" * length:
        fitted = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
        fitted.add_data(QRData(text.encode(), mode=MODE_8BIT_BYTE))
        fitted.make(fit=True)
        first, again = qr._matrix(text), qr._matrix(text)  # the second at the version remembered
        assert first == again and len(first) == len(fitted.get_matrix())
        assert read_matrix(again) == [text]

@pytest.mark.django_db
def test_every_page_says_so_in_demo_mode_and_no_page_says_it_otherwise(client, settings):
    settings.REGISTERFT_ISSUERS = ("demo",)
    for path in ("/", "/help/", "/privacy/", "/no/such/page"):
        assert re.search(r'class="demo-banner"', client.get(path).content.decode()), path
    settings.REGISTERFT_ISSUERS = ("agent-rest",)
    assert 'class="demo-banner"' not in client.get("/privacy/").content.decode()
