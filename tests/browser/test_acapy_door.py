"""The door in Chromium with real ACA-Py agents: staff log in on a tablet, the holder agent (the
visitor's wallet) takes the link decoded from the door's QR code pixels, as a phone's camera would,
and presents its credential; the page shows the green result by itself. Every page axe-clean."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission, User

from onboarding.models import DoorRequest
from tests.browser.conftest import Device, new_context
from tests.browser.helpers import AxeReport, record
from tests.browser.test_qr_code import decode_qr

# The agents and the portal pointed at them, as the ACA-Py suite starts them (its own instances).
from tests.integration.conftest import (  # noqa: F401  (fixtures)
    acapy_executable,
    agent_dir,
    holder_agent,
    issuer_agent,
    portal,
)
from tests.integration.test_door import did_key, present, record_of, register

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

TABLET = Device(name="tablet", width=1024, height=768, mobile=True)
RESULT_TIMEOUT_MS = 20_000


@pytest.fixture
def tablet(browser):
    context = new_context(browser, TABLET)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_staff_log_in_and_a_wallet_scanning_the_door_qr_is_welcomed(portal, holder_agent, tablet):
    registration = register(portal, holder_agent)
    user = User.objects.create_user("door1", password="a long door password")
    user.user_permissions.add(Permission.objects.get(codename="check_in"))
    axe = AxeReport()

    tablet.goto(f"{portal}/door/?door=North")
    tablet.wait_for_url(re.compile(r"/door/login/"))
    record(tablet, "door-login", axe)
    tablet.get_by_label("User name").fill("door1")
    tablet.get_by_label("Password").fill("a long door password")
    tablet.get_by_role("button", name=re.compile("Log in", re.I)).click()
    tablet.wait_for_url(re.compile(r"/door/r/[0-9a-f-]+/$"))
    record(tablet, "door-qr", axe)

    [link] = decode_qr(tablet.locator("figure.qr").screenshot())
    door_request = DoorRequest.objects.get(short_code=link.rsplit("/", 1)[-1])
    assert link.startswith(f"{portal}/d/") and len(link) < 100
    assert len(door_request.invitation_url) > 4 * len(link)

    present(holder_agent, link, record_of(holder_agent, registration.credential_id)["record_id"],
            signer=did_key(holder_agent))
    result = tablet.locator('[data-result="green"]')
    result.wait_for(timeout=RESULT_TIMEOUT_MS)
    assert f"Welcome, {registration.attributes['first_name']}" in result.inner_text()
    record(tablet, "door-green", axe)
    axe.assert_clean()
