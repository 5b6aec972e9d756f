"""The QR code's lifetime and the waiting pages in the browser: a fresh QR in place when the
invitation expired, "start again" when nothing moves, and the whole flow without JavaScript."""

from __future__ import annotations

import re

import pytest

from onboarding import leases
from onboarding.models import Registration
from tests.browser.conftest import DESKTOP, new_context
from tests.browser.helpers import AxeReport, record
from tests.browser.test_qr_code import decode_qr

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_an_expired_qr_code_is_replaced_in_place_and_the_fresh_one_works(
    live_server, visitor, wallet_context, device, settings
):
    """In French, to see the language kept: the fresh code keeps the visitor's session and
    language, and a wallet scanning it goes all the way to the credential."""
    axe = AxeReport()
    settings.REGISTERFT_INVITATION_TTL = 2
    visitor.goto(f"{live_server.url}/")
    with visitor.expect_navigation():
        visitor.get_by_role("button", name="Français").click()
    assert visitor.locator("html").get_attribute("lang") == "fr"
    old_link = visitor.locator("#invitation-url").input_value()
    session = next(c["value"] for c in visitor.context.cookies() if c["name"] == "sessionid")

    fresh = visitor.locator("[data-fresh-qr] a")
    fresh.wait_for(state="visible", timeout=10_000)
    assert "expiré" in visitor.locator(".status-message[role=status]").inner_text()
    assert visitor.url == f"{live_server.url}/"  # the page stayed, with the visitor's session
    record(visitor, f"{device.name}-expiry-1-expired", axe)

    settings.REGISTERFT_INVITATION_TTL = 600
    assert fresh.inner_text() == "Obtenir un nouveau code QR"
    with visitor.expect_navigation():
        fresh.click()
    new_link = visitor.locator("#invitation-url").input_value()
    assert new_link != old_link
    assert visitor.locator("[data-fresh-qr]").is_hidden()
    assert visitor.locator("html").get_attribute("lang") == "fr"
    assert next(c["value"] for c in visitor.context.cookies() if c["name"] == "sessionid") == session
    record(visitor, f"{device.name}-expiry-2-fresh", axe)

    wallet = wallet_context.new_page()
    assert wallet.goto(old_link).status == 410
    wallet.goto(new_link)
    wallet.get_by_role("button", name="Accept connection").click()
    visitor.wait_for_url(re.compile(r"/name$"))
    for name, value in (("first_name", "Mary"), ("last_name", "Jackson"), ("institution", "NACA")):
        visitor.locator(f'[name="{name}"]').fill(value)
    visitor.locator(".details-form button[type=submit]").click()
    visitor.wait_for_url(re.compile(r"/loading/$"))
    wallet.get_by_role("button", name="Accept credential").click()  # the wallet's page shows the offer by itself
    visitor.wait_for_url(re.compile(r"/success$"))
    assert Registration.objects.filter(state=Registration.State.ISSUED).count() == 1
    axe.assert_clean()


def test_a_waiting_page_without_progress_shows_start_again_prominently(live_server, visitor, device, settings):
    axe = AxeReport()
    settings.REGISTERFT_STUCK_AFTER = 1
    visitor.goto(f"{live_server.url}/")
    visitor.get_by_role("link", name="I have scanned the code").click()
    visitor.wait_for_url(re.compile(r"/check_connection/$"))

    help_box = visitor.locator("[data-stuck-help]")
    help_box.wait_for(state="visible", timeout=5_000)
    assert help_box.get_by_role("button", name="Start again").is_visible()
    assert visitor.locator("[data-not-stuck]").is_hidden()
    record(visitor, f"{device.name}-waiting-stuck", axe)

    help_box.get_by_role("button", name="Start again").click()
    visitor.wait_for_url(f"{live_server.url}/")
    assert Registration.objects.count() == 2
    axe.assert_clean()


def test_a_visitor_without_javascript_completes_the_flow(live_server, browser, wallet_context):
    """The waiting pages refresh themselves through <meta http-equiv=refresh> inside <noscript>."""
    context = new_context(browser, DESKTOP, java_script_enabled=False)
    try:
        visitor = context.new_page()
        visitor.goto(f"{live_server.url}/")
        record(visitor, "nojs-1-start")
        wallet = wallet_context.new_page()
        wallet.goto(visitor.locator("#invitation-url").input_value())
        wallet.get_by_role("button", name="Accept connection").click()

        visitor.wait_for_url(re.compile(r"/name$"), timeout=15_000)
        visitor.get_by_label("First name").fill("Hedy")
        visitor.get_by_label("Last name").fill("Lamarr")
        visitor.get_by_label("Institution").fill("Inventors")
        visitor.get_by_role("button", name="Send to my wallet").click()
        visitor.wait_for_url(re.compile(r"/loading/$"))
        record(visitor, "nojs-2-loading")

        wallet.get_by_role("button", name="Accept credential").click()
        visitor.wait_for_url(re.compile(r"/success$"), timeout=15_000)
        record(visitor, "nojs-3-success")
    finally:
        context.close()


def test_a_visitor_back_from_the_wallet_app_sees_the_page_move_on_at_once(
    live_server, browser, wallet_context, settings
):
    """Same phone, two apps: when the browser comes back to the front, the page asks at once."""
    from tests.browser.conftest import PHONE

    settings.REGISTERFT_POLL_INTERVAL_MS = 60_000  # the timer alone would wait a minute
    context = new_context(browser, PHONE)
    try:
        visitor = context.new_page()
        visitor.goto(f"{live_server.url}/")
        wallet = wallet_context.new_page()
        wallet.goto(visitor.locator("#invitation-url").input_value())
        wallet.get_by_role("button", name="Accept connection").click()

        # What a phone's browser fires when the visitor switches back to it from the wallet app.
        visitor.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
        visitor.wait_for_url(re.compile(r"/name$"), timeout=5_000)
    finally:
        context.close()


def test_a_wallet_opening_the_link_is_shown_and_its_connection_moves_the_page_on_soon(
    live_server, visitor, wallet_context, settings
):
    """The page says the wallet opened the invitation, then asks often: it moves on well within
    the interval its timer alone would wait."""
    settings.REGISTERFT_POLL_INTERVAL_MS = 4_000
    visitor.goto(f"{live_server.url}/")
    wallet = wallet_context.new_page()
    wallet.goto(visitor.locator("#invitation-url").input_value())
    message = visitor.locator(".status-message[role=status]")
    message.filter(has_text="Your wallet opened the invitation").wait_for(timeout=10_000)
    wallet.get_by_role("button", name="Accept connection").click()
    visitor.wait_for_url(re.compile(r"/name$"), timeout=2_500)


def test_a_silent_wallet_gets_the_offer_again_from_an_accessible_loading_page(
    live_server, visitor, wallet_context, device, settings
):
    """The details form with its errors and the loading page past REGISTERFT_STUCK_AFTER, under axe;
    then "send the offer again" and the wallet accepts the new offer."""
    axe = AxeReport()
    settings.REGISTERFT_STUCK_AFTER = 1
    visitor.goto(f"{live_server.url}/")
    wallet = wallet_context.new_page()
    wallet.goto(visitor.locator("#invitation-url").input_value())
    wallet.get_by_role("button", name="Accept connection").click()
    wallet_url = wallet.url
    visitor.wait_for_url(re.compile(r"/name$"))
    with visitor.expect_navigation():
        visitor.get_by_role("button", name="Send to my wallet").click()
    record(visitor, f"{device.name}-details-errors", axe)
    visitor.get_by_label("First name").fill("Annie")
    visitor.get_by_label("Last name").fill("Easley")
    visitor.get_by_label("Institution").fill("NASA")
    visitor.get_by_role("button", name="Send to my wallet").click()
    visitor.wait_for_url(re.compile(r"/loading/$"))

    again = visitor.get_by_role("button", name="Send the offer again")
    again.wait_for(state="visible", timeout=5_000)
    record(visitor, f"{device.name}-loading-stuck", axe)
    with visitor.expect_navigation():
        again.click()
    assert "The offer has been sent to your wallet again." in visitor.locator("[role=status]").first.inner_text()
    registration = Registration.objects.get()
    assert registration.previous_process_id and registration.process_id != registration.previous_process_id

    wallet = wallet_context.new_page()  # the wallet opened again (its first page may be moving on by itself)
    wallet.goto(wallet_url)
    wallet.locator(f'form:has(input[value="{registration.process_id}"])').get_by_role(
        "button", name="Accept credential").click()
    visitor.wait_for_url(re.compile(r"/success$"))
    axe.assert_clean()


def test_a_visitor_waiting_in_line_gets_the_qr_code_in_place_and_goes_on_from_it(
    live_server, visitor, wallet_context, device, settings
):
    """The line's page becomes the start page when the visitor's turn comes: no page is loaded for
    it, its scripts run (the copy button, the wait for the wallet, the details form in place)."""
    axe = AxeReport()
    settings.REGISTERFT_MAX_IN_PROGRESS = 1
    leases.lease_take(["place:1"], holder="another visitor", seconds=600)  # the agent's one place
    documents: list[str] = []
    visitor.on("request", lambda request: documents.append(request.url) if request.resource_type == "document" else None)
    visitor.goto(f"{live_server.url}/")
    assert " in line" in visitor.locator(".status-message[role=status]").inner_text()
    assert not visitor.locator("#invitation-url").count()
    record(visitor, f"{device.name}-line-1-waiting", axe)

    leases.lease_release(["place:1"], holder="another visitor")
    link = visitor.locator("#invitation-url")
    link.wait_for(state="visible", timeout=10_000)

    assert documents == [f"{live_server.url}/"]  # shown in place: no page loaded for it
    assert visitor.url == f"{live_server.url}/"
    assert visitor.title().startswith("Scan the QR code · ")
    assert visitor.evaluate("document.activeElement.textContent") == "Get your credential"
    registration = Registration.objects.get()
    assert link.input_value().endswith(f"/i/{registration.short_code}")
    assert decode_qr(visitor.locator("figure.qr").screenshot()) == [link.input_value()]
    assert visitor.get_by_role("button", name="Copy link").is_visible()  # copy.js ran for it
    record(visitor, f"{device.name}-line-2-turn", axe)

    wallet = wallet_context.new_page()
    wallet.goto(link.input_value())
    wallet.get_by_role("button", name="Accept connection").click()
    visitor.wait_for_url(re.compile(r"/name$"))  # poll.js ran for it: the details form in place
    visitor.get_by_label("First name").fill("Katherine")
    visitor.get_by_label("Last name").fill("Johnson")
    visitor.get_by_label("Institution").fill("NACA")
    visitor.get_by_role("button", name="Send to my wallet").click()
    visitor.wait_for_url(re.compile(r"/loading/$"))
    wallet.get_by_role("button", name="Accept credential").click()
    visitor.wait_for_url(re.compile(r"/success$"))
    assert documents == [f"{live_server.url}/", f"{live_server.url}/name"]  # the details' answer
    registration.refresh_from_db()
    assert registration.state == Registration.State.ISSUED
    axe.assert_clean()
