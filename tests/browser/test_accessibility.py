"""axe-core on the pages the flow does not pass through (errors, failures, help, privacy),
keyboard-only completion of the details form, and the announcements of the aria-live region."""

from __future__ import annotations

import json
import re

import pytest

from onboarding import leases
from onboarding.issuers.base import IssuerUnavailable
from onboarding.models import Registration
from onboarding.views import flow
from tests.browser.conftest import DESKTOP, new_context
from tests.browser.helpers import AxeReport, record

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

# Records each change of the page's aria-live region in sessionStorage, which outlives the
# page changes of the flow.
RECORD_ANNOUNCEMENTS = """
document.addEventListener("DOMContentLoaded", function () {
  var region = document.querySelector(".status-message[role=status]");
  if (!region) { return; }
  new MutationObserver(function () {
    var said = JSON.parse(sessionStorage.getItem("announced") || "[]");
    said.push(region.textContent.trim());
    sessionStorage.setItem("announced", JSON.stringify(said));
  }).observe(region, {childList: true, characterData: true, subtree: true});
});
"""


def connect_demo_wallet(visitor, wallet_context) -> object:
    wallet = wallet_context.new_page()
    wallet.goto(visitor.locator("#invitation-url").input_value())
    wallet.get_by_role("button", name="Accept connection").click()
    return wallet


def test_the_error_and_side_pages_have_no_serious_axe_violations(live_server, visitor, device, monkeypatch):
    axe = AxeReport()
    shot = f"{device.name}-page"

    visitor.goto(f"{live_server.url}/no-such-page")
    record(visitor, f"{shot}-404", axe)

    # A form far beyond Django's request size limit: the portal's own 413 page (refused unread).
    with visitor.expect_navigation() as sent:
        visitor.evaluate(
            "() => { const f = document.createElement('form'); f.method = 'post'; f.action = '/name';"
            " const t = document.createElement('textarea'); t.name = 'first_name'; t.value = 'A'.repeat(3000000);"
            " f.append(t); document.body.append(f); f.submit(); }"
        )
    assert sent.value.status == 413
    record(visitor, f"{shot}-413", axe)

    gone = Registration.objects.create(backend="demo", invitation_id="x", invitation_url="/x", state="connected")
    assert visitor.goto(f"{live_server.url}/i/{gone.short_code}").status == 410
    record(visitor, f"{shot}-410-invitation-gone", axe)

    for path, name in (("/help/", "help"), ("/privacy/", "privacy")):
        visitor.goto(f"{live_server.url}{path}")
        record(visitor, f"{shot}-{name}", axe)

    # A form sent without its CSRF token, as after a very long pause.
    with visitor.expect_navigation():
        visitor.evaluate(
            "() => { const f = document.createElement('form'); f.method = 'post'; f.action = '/restart/';"
            " document.body.append(f); f.submit(); }"
        )
    record(visitor, f"{shot}-403-csrf", axe)

    def unavailable(**kwargs):
        raise IssuerUnavailable("the test's issuer is down")

    monkeypatch.setattr(flow.services, "registration_start", unavailable)
    assert visitor.goto(f"{live_server.url}/").status == 503
    record(visitor, f"{shot}-503-issuer", axe)

    def broken(**kwargs):
        raise RuntimeError("a bug, on purpose")

    monkeypatch.setattr(flow.services, "registration_start", broken)
    assert visitor.goto(f"{live_server.url}/").status == 500
    record(visitor, f"{shot}-500", axe)
    axe.assert_clean()


def test_a_declined_credential_shows_an_accessible_failure(live_server, visitor, wallet_context, device):
    axe = AxeReport()
    visitor.goto(f"{live_server.url}/")
    wallet = connect_demo_wallet(visitor, wallet_context)
    visitor.wait_for_url(re.compile(r"/name$"))
    visitor.get_by_label("First name").fill("Grace")
    visitor.get_by_label("Last name").fill("Hopper")
    visitor.get_by_label("Institution").fill("Navy")
    visitor.get_by_role("button", name="Send to my wallet").click()
    visitor.wait_for_url(re.compile(r"/loading/$"))
    wallet.get_by_role("button", name="Decline").click()

    alert = visitor.get_by_role("alert")
    alert.wait_for()
    assert "declined" in alert.inner_text()
    record(visitor, f"{device.name}-page-failure-declined", axe)
    axe.assert_clean()


def test_a_visitor_completes_the_form_with_the_keyboard_alone(live_server, browser, wallet_context):
    context = new_context(browser, DESKTOP)
    try:
        context.add_init_script(RECORD_ANNOUNCEMENTS)
        visitor = context.new_page()
        visitor.goto(f"{live_server.url}/")
        wallet = connect_demo_wallet(visitor, wallet_context)
        visitor.wait_for_url(re.compile(r"/name$"))

        # Tab from the top of the page to the first field; no mouse from here on.
        for _ in range(20):
            visitor.keyboard.press("Tab")
            if visitor.evaluate("document.activeElement.id") == "id_first_name":
                break
        else:
            pytest.fail("the first field cannot be reached with Tab")
        # Sending it empty: the errors are tied to their fields.
        with visitor.expect_navigation():
            visitor.keyboard.press("Enter")
        first = visitor.locator("#id_first_name")
        assert first.get_attribute("aria-invalid") == "true"
        described_by = first.get_attribute("aria-describedby")
        assert visitor.locator(f"#{described_by}").inner_text().strip()

        # The page starts the visitor on the first field to correct: no Tab back needed.
        assert visitor.evaluate("document.activeElement.id") == "id_first_name"
        visitor.keyboard.type("Katherine")
        visitor.keyboard.press("Tab")
        visitor.keyboard.type("Johnson")
        visitor.keyboard.press("Tab")
        visitor.keyboard.type("NASA")
        visitor.keyboard.press("Enter")
        visitor.wait_for_url(re.compile(r"/loading/$"))

        wallet.get_by_role("button", name="Accept credential").click()
        visitor.wait_for_url(re.compile(r"/success$"))
        assert Registration.objects.get().attributes["last_name"] == "Johnson"

        announced = json.loads(visitor.evaluate("sessionStorage.getItem('announced') || '[]'"))
        assert "Your wallet has connected. Opening the next step…" in announced
        assert "Your wallet has accepted the credential." in announced
    finally:
        context.close()


@pytest.mark.parametrize("width", [320, 640], ids=["320px", "zoom-200pct"])
def test_the_pages_fit_a_narrow_screen_without_sideways_scrolling(live_server, browser, wallet_context, width):
    """320 CSS pixels is WCAG's reflow width; 640 is a 1280 pixel desktop at 200 % zoom."""
    from tests.browser.conftest import Device

    context = new_context(browser, Device(name=f"w{width}", width=width, height=640, mobile=False))
    try:
        visitor = context.new_page()
        too_wide = []

        def check(name: str) -> None:
            record(visitor, f"narrow-{width}-{name}")
            overflow = visitor.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            if overflow > 0:
                too_wide.append(f"{name}: {overflow}px")

        for path, name in (("/", "start"), ("/help/", "help"), ("/privacy/", "privacy"), ("/nope", "404")):
            visitor.goto(f"{live_server.url}{path}")
            check(name)
        visitor.goto(f"{live_server.url}/")
        wallet = connect_demo_wallet(visitor, wallet_context)
        visitor.wait_for_url(re.compile(r"/name$"))
        check("details")
        with visitor.expect_navigation():
            visitor.get_by_role("button", name="Send to my wallet").click()  # empty: the errors
        check("details-errors")
        visitor.get_by_label("First name").fill("Hedy")
        visitor.get_by_label("Last name").fill("Lamarr")
        visitor.get_by_label("Institution").fill("Frequency Hopping Society of the Greater Area")
        visitor.get_by_role("button", name="Send to my wallet").click()
        visitor.wait_for_url(re.compile(r"/loading/$"))
        check("loading")
        wallet.get_by_role("button", name="Accept credential").click()
        visitor.wait_for_url(re.compile(r"/success$"))
        check("success")
        visitor.goto(f"{live_server.url}/")
        visitor.get_by_role("link", name="I have scanned the code").click()
        visitor.wait_for_url(re.compile(r"/check_connection/$"))
        check("check-connection")
        assert not too_wide, f"pages wider than {width}px: {too_wide}"
    finally:
        context.close()


def test_the_spinner_stops_for_reduced_motion_and_focus_is_visible(live_server, browser):
    context = new_context(browser, DESKTOP, reduced_motion="reduce")
    try:
        visitor = context.new_page()
        visitor.goto(f"{live_server.url}/")
        visitor.get_by_role("link", name="I have scanned the code").click()
        visitor.wait_for_url(re.compile(r"/check_connection/$"))
        animation = visitor.locator(".spinner").evaluate("element => getComputedStyle(element).animationName")
        assert animation == "none"

        button = visitor.get_by_role("button", name="Start again")
        for _ in range(30):
            visitor.keyboard.press("Tab")
            if button.evaluate("element => element === document.activeElement"):
                break
        else:
            pytest.fail("the Start again button cannot be reached with Tab")
        outline = button.evaluate("element => getComputedStyle(element).outlineStyle + ' ' + getComputedStyle(element).outlineWidth")
        assert outline.startswith("solid") and not outline.endswith(" 0px")
    finally:
        context.close()


def test_the_pages_that_hold_a_visitor_back_have_no_serious_axe_violations(live_server, visitor, device, settings):
    """The registration window's "closed" page, the rate limit's page and the waiting line."""
    from datetime import timedelta

    from django.utils import timezone

    axe = AxeReport()
    shot = f"{device.name}-page"

    settings.REGISTERFT_OPEN_FROM = timezone.now() + timedelta(days=1)
    visitor.goto(f"{live_server.url}/")
    assert "check_connection" not in visitor.content()
    record(visitor, f"{shot}-closed", axe)
    settings.REGISTERFT_OPEN_FROM = None

    settings.REGISTERFT_MAX_IN_PROGRESS = 1
    leases.lease_take(["place:1"], holder="another visitor", seconds=600)  # the agent's one place
    visitor.goto(f"{live_server.url}/")
    assert not visitor.locator("#invitation-url").count()
    record(visitor, f"{shot}-waiting-line", axe)
    leases.lease_release(["place:1"], holder="another visitor")
    settings.REGISTERFT_MAX_IN_PROGRESS = 0

    settings.REGISTERFT_RATE_INVITATIONS_PER_SESSION = (1, 3600)
    visitor.goto(f"{live_server.url}/")
    visitor.get_by_role("link", name="I have scanned the code").click()
    with visitor.expect_navigation():
        visitor.get_by_role("button", name="Start again").click()
    assert not visitor.locator("#invitation-url").count()
    record(visitor, f"{shot}-429-rate-limited", axe)
    axe.assert_clean()
