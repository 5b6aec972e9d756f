"""The offer-first order in Chromium against real OpenID4VCI components: the swiyu backend and its
stand-in in front of a real Credo issuer, and a real Credo holder that takes the offer it decodes
from the QR code's pixels on the screen, with the PIN the page shows (tests/oid4vc/)."""

from __future__ import annotations

import re

import pytest

from onboarding.models import Registration
from tests.browser.conftest import DESKTOP, SCREENSHOTS, new_context
from tests.browser.helpers import AxeReport, record
from tests.browser.test_qr_code import decode_qr
from tests.integration.test_acapy_flow import details

# The stand-in, the holder and the portal pointed at them, as the integration tests start them.
from tests.oid4vc.fixtures import (  # noqa: F401  (fixtures)
    oid4vc_components,
    oid4vc_holder,
    oid4vc_log_dir,
    swiyu_portal,
    swiyu_standin,
)
from tests.oid4vc.components import limit_with_install
from tests.oid4vc.reading import verified_claims

pytestmark = [pytest.mark.integration, pytest.mark.timeout(limit_with_install(120))]

STEP_TIMEOUT_MS = 20_000
PIN_LABEL = "Your wallet asks for this PIN:"


def send_details(page, portal: str) -> dict[str, str]:
    page.goto(f"{portal}/")
    page.wait_for_url(re.compile(r"/name$"))
    submitted = details()
    for name, value in submitted.items():
        page.locator(f'[name="{name}"]').fill(value)
    page.get_by_role("button", name="Send to my wallet").click()
    page.wait_for_url(re.compile(r"/offer/$"))
    return submitted


def scan(page, name: str) -> str:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    [text] = decode_qr(page.locator("figure.qr").screenshot(path=str(SCREENSHOTS / f"{name}-swiyu-qr.png")))
    return text


def test_a_real_wallet_takes_the_offer_from_the_screen_with_the_pin_the_page_shows(
    swiyu_portal, swiyu_standin, oid4vc_holder, visitor, device
):
    axe = AxeReport()
    submitted = send_details(visitor, swiyu_portal)
    record(visitor, f"{device.name}-swiyu-1-offer", axe)

    # The PIN as a screen reader meets it: an output (role status) named by its label.
    pin = visitor.get_by_role("status", name=PIN_LABEL).inner_text().strip()
    assert re.fullmatch(r"\d{6}", pin)
    assert f'status "{PIN_LABEL}": "{pin}"' in visitor.locator(".offer-pin").aria_snapshot()
    link = scan(visitor, device.name)
    registration = Registration.objects.get(state=Registration.State.OFFERED, offer_pin=pin)
    assert link.startswith("swiyu://?credential_offer_uri=") and pin not in link
    if device.mobile:  # the phone's button opens the same link
        assert visitor.get_by_role("link", name="Open in wallet").get_attribute("href") == link

    answer = oid4vc_holder.redeem(link, tx_code=pin)
    assert answer.status_code == 200, answer.text
    visitor.wait_for_url(re.compile(r"/success$"), timeout=STEP_TIMEOUT_MS)
    record(visitor, f"{device.name}-swiyu-2-success", axe)
    axe.assert_clean()

    assert Registration.objects.get(pk=registration.pk).state == Registration.State.ISSUED
    claims = verified_claims(answer.json()["credential"], swiyu_standin.issuer_key()["jwk"])
    assert {name: claims.get(name) for name in submitted} == submitted


def test_a_visitor_without_javascript_gets_the_credential_through_the_offer_first_order(
    swiyu_portal, oid4vc_holder, browser
):
    """The offer's page refreshes itself (<meta http-equiv=refresh> inside <noscript>)."""
    context = new_context(browser, DESKTOP, java_script_enabled=False)
    try:
        page = context.new_page()
        send_details(page, swiyu_portal)
        record(page, "nojs-swiyu-1-offer")
        pin = page.get_by_role("status", name=PIN_LABEL).inner_text().strip()
        answer = oid4vc_holder.redeem(scan(page, "nojs"), tx_code=pin)
        assert answer.status_code == 200, answer.text
        page.wait_for_url(re.compile(r"/success$"), timeout=STEP_TIMEOUT_MS)
        record(page, "nojs-swiyu-2-success")
    finally:
        context.close()
