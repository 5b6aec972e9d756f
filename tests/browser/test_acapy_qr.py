"""A real ACA-Py invitation on the start page, read from the screen: the holder agent (the wallet)
takes the link it decodes from the QR code's pixels, as a phone's camera would, and the visitor
completes the flow in Chromium, at a phone size and at a desktop size."""

from __future__ import annotations

import re

import pytest

from onboarding.models import Registration
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_qr_code import decode_qr

# The agents and the portal pointed at them, as the ACA-Py suite starts them (its own instances).
from tests.integration.conftest import (  # noqa: F401  (fixtures)
    acapy_executable,
    agent_dir,
    holder_agent,
    issuer_agent,
    portal,
)
from tests.integration.test_acapy_flow import details, stored_credential, wait_for, wallet_receives

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

STEP_TIMEOUT_MS = 30_000


def test_a_wallet_scanning_an_acapy_qr_from_the_screen_gets_its_credential(portal, holder_agent, visitor, device):
    visitor.goto(f"{portal}/")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    png = visitor.locator("figure.qr").screenshot(path=str(SCREENSHOTS / f"{device.name}-acapy-qr.png"))

    [link] = decode_qr(png)
    registration = Registration.objects.get(short_code=link.rsplit("/", 1)[-1])
    assert link.startswith(f"{portal}/i/") and len(link) < 100
    # The agent's own invitation URL, which the short link stands for, is several times longer.
    assert len(registration.invitation_url) > 4 * len(link)

    wallet_receives(link, holder_agent)
    visitor.wait_for_url(re.compile(r"/name$"), timeout=STEP_TIMEOUT_MS)
    submitted = details()
    for name, value in submitted.items():
        visitor.locator(f'[name="{name}"]').fill(value)
    visitor.get_by_role("button", name="Send to my wallet").click()
    visitor.wait_for_url(re.compile(r"/success$"), timeout=STEP_TIMEOUT_MS)

    assert wait_for("the credential in the wallet", lambda: stored_credential(holder_agent, submitted))
    assert Registration.objects.get(pk=registration.pk).state == Registration.State.ISSUED
