"""The start page's QR code, read from a screenshot's pixels the way a wallet's camera reads it."""

from __future__ import annotations

import io

import pytest

from tests.browser.conftest import SCREENSHOTS

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def decode_qr(png: bytes) -> list[str]:
    import zxingcpp
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("L")
    return [result.text for result in zxingcpp.read_barcodes(image)]


def test_the_qr_code_holds_the_short_link(live_server, visitor, device):
    visitor.goto(f"{live_server.url}/")
    short_link = visitor.locator("#invitation-url").input_value()

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    png = visitor.locator("figure.qr").screenshot(path=str(SCREENSHOTS / f"{device.name}-qr.png"))

    assert decode_qr(png) == [short_link]
    assert len(short_link) < 100
    assert short_link.startswith(f"{live_server.url}/i/")
