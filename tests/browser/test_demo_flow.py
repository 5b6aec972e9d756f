"""The whole flow in headless Chromium: the visitor's page on one device, the demo wallet on a
second page, at a phone size and at a desktop size, with a screenshot and an axe-core check of
every step."""

from __future__ import annotations

import re

import pytest

from onboarding.models import Registration
from tests.browser.conftest import PHONE, Device, new_context
from tests.browser.helpers import AxeReport, record

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def open_wallet(visitor, wallet_context, device):
    """On a phone the visitor taps "Open in wallet" (the demo wallet opens in a new tab); on a
    desktop another phone opens the short link from the QR code."""
    if device.mobile:
        button = visitor.get_by_role("link", name="Open in wallet")
        with visitor.context.expect_page() as new_page:
            button.click()
        wallet = new_page.value
    else:
        short_link = visitor.locator("#invitation-url").input_value()
        assert len(short_link) < 100
        wallet = wallet_context.new_page()
        wallet.goto(short_link)
    wallet.wait_for_url(re.compile(r"/demo/wallet/"))
    return wallet


def test_a_visitor_gets_a_credential_with_the_demo_wallet(live_server, visitor, wallet_context, device):
    axe = AxeReport()
    shot = f"{device.name}-flow"

    visitor.goto(f"{live_server.url}/")
    assert visitor.title().startswith("Scan the QR code")
    assert visitor.get_by_role("heading", level=1).count() == 1
    record(visitor, f"{shot}-1-start", axe)
    loaded: list[str] = []
    visitor.on("request", lambda request: loaded.append(f"{request.method} {request.url}"))

    wallet = open_wallet(visitor, wallet_context, device)
    record(wallet, f"{shot}-2-wallet-invitation", axe)
    wallet.get_by_role("button", name="Accept connection").click()

    visitor.bring_to_front()
    visitor.wait_for_url(re.compile(r"/name$"))
    # The start page shows the form it carries in place (no request for /name), as /name would.
    assert visitor.get_by_role("heading", level=1).inner_text() == "Your details"
    assert not [url for url in loaded if url.endswith("/name")]
    assert visitor.title().startswith("Your details · ")
    assert visitor.evaluate("document.activeElement.textContent") == "Your details"
    assert visitor.locator('.steps li[aria-current="step"]').inner_text() == "Details"
    assert visitor.locator(".steps li.done").all_inner_texts() == ["Scan", "Connect"]
    record(visitor, f"{shot}-3-details", axe)
    visitor.get_by_label("First name").fill("Ada")
    visitor.get_by_label("Last name").fill("Lovelace")
    visitor.get_by_label("Institution").fill("Analytical Engines")
    visitor.get_by_role("button", name="Send to my wallet").click()

    visitor.wait_for_url(re.compile(r"/loading/$"))
    # The loading page came as the answer to the details (no request for /loading/), at its address.
    def pages() -> list[str]:
        return [url for url in loaded if url.endswith(("/name", "/loading/"))]

    assert pages() == [f"POST {live_server.url}/name"]
    record(visitor, f"{shot}-4-loading", axe)
    # A reload asks for the loading page, not for the details' POST once more.
    visitor.reload()
    assert pages() == [f"POST {live_server.url}/name", f"GET {live_server.url}/loading/"]
    assert visitor.get_by_role("heading", level=1).inner_text() == "Accept the credential in your wallet"

    # The wallet page polls and shows the offer once it has arrived.
    wallet.bring_to_front()
    accept = wallet.get_by_role("button", name="Accept credential")
    accept.wait_for()
    assert "Lovelace" in wallet.locator(".attributes").inner_text()
    record(wallet, f"{shot}-5-wallet-offer", axe)
    accept.click()
    wallet.get_by_role("status").filter(has_text="The credential is stored").wait_for()
    record(wallet, f"{shot}-6-wallet-stored", axe)

    visitor.bring_to_front()
    visitor.wait_for_url(re.compile(r"/success$"))
    assert visitor.get_by_role("heading", level=1).inner_text() == "Thank you!"
    # Shown in place by the loading page (no request for /success), as the success page would be.
    assert not [url for url in loaded if url.endswith("/success")]
    assert visitor.title().startswith("Done · ")
    assert visitor.evaluate("document.activeElement.textContent") == "Thank you!"
    assert visitor.locator('.steps li[aria-current="step"]').inner_text() == "Done"
    record(visitor, f"{shot}-7-success", axe)
    visitor.reload()
    assert visitor.get_by_role("heading", level=1).inner_text() == "Thank you!"

    registration = Registration.objects.get()
    assert registration.state == Registration.State.ISSUED
    axe.assert_clean()


@pytest.mark.parametrize(
    ("width", "user_agent", "button_first"),
    [(390, None, True), (1024, PHONE.user_agent, True), (1280, None, False)],
    ids=["narrow", "wide-phone-browser", "desktop"],
)
def test_the_wallet_button_or_the_qr_code_comes_first(live_server, browser, width, user_agent, button_first):
    device = Device(name=f"order-{width}", width=width, height=800, mobile=False, user_agent=user_agent)
    context = new_context(browser, device)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/")
        button = page.get_by_role("link", name="Open in wallet").bounding_box()
        qr = page.locator("figure.qr").bounding_box()
        assert (button["y"] < qr["y"]) is button_first
        if not button_first:
            assert qr["width"] >= 450  # large enough to scan from two metres (800 px high window)
    finally:
        context.close()
