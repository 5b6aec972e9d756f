"""The choice of wallet in Chromium, where the portal runs two backends: the choice page and the
help page per kind, axe-clean at a phone's and a desktop's size; and a visitor without JavaScript
who chooses with the plain form and completes the demo issuer's flow."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import DESKTOP, new_context
from tests.browser.helpers import AxeReport, record

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture(autouse=True)
def two_backends(settings):
    settings.REGISTERFT_ISSUERS = ("swiyu", "demo")
    settings.SWIYU_MANAGEMENT_URL = "http://127.0.0.1:9"  # never asked: nobody chooses swiyu here
    settings.SWIYU_CREDENTIAL_CONFIGURATION_ID = "registerft"
    settings.SWIYU_WEBHOOK_KEY = "hook"


def test_the_choice_and_the_help_per_kind_have_no_serious_axe_violations(live_server, visitor, device):
    axe = AxeReport()
    visitor.goto(f"{live_server.url}/")
    assert visitor.get_by_role("heading", name="Which wallet do you have?").is_visible()
    assert visitor.get_by_role("button", name="swiyu or another OpenID wallet").is_visible()
    record(visitor, f"{device.name}-choice", axe)
    assert visitor.get_by_role("link", name="Apps for: DIDComm wallet").count() == 0  # demo and swiyu only
    visitor.get_by_role("link", name="Apps for: Demo wallet").click()
    visitor.wait_for_url(re.compile(r"/help/#wallet-demo$"))
    assert visitor.get_by_role("heading", name="swiyu or another OpenID wallet").is_visible()
    record(visitor, f"{device.name}-help-per-kind", axe)
    visitor.goto(f"{live_server.url}/")
    visitor.get_by_role("button", name="Demo wallet").click()
    visitor.wait_for_url(re.compile(r"/$"))
    assert visitor.locator("#invitation-url").is_visible()
    axe.assert_clean()


def test_a_visitor_without_javascript_chooses_and_completes_the_flow(live_server, browser, wallet_context):
    context = new_context(browser, DESKTOP, java_script_enabled=False)
    try:
        visitor = context.new_page()
        visitor.goto(f"{live_server.url}/")
        record(visitor, "nojs-choice")
        visitor.get_by_role("button", name="Demo wallet").click()
        wallet = wallet_context.new_page()
        wallet.goto(visitor.locator("#invitation-url").input_value())
        wallet.get_by_role("button", name="Accept connection").click()
        visitor.wait_for_url(re.compile(r"/name$"), timeout=15_000)
        visitor.get_by_label("First name").fill("Hedy")
        visitor.get_by_label("Last name").fill("Lamarr")
        visitor.get_by_label("Institution").fill("Inventors")
        visitor.get_by_role("button", name="Send to my wallet").click()
        visitor.wait_for_url(re.compile(r"/loading/$"))
        wallet.get_by_role("button", name="Accept credential").click()
        visitor.wait_for_url(re.compile(r"/success$"), timeout=15_000)
        record(visitor, "nojs-choice-success")
    finally:
        context.close()
