"""The door where the portal runs several backends: a request for each kind of wallet that can be
checked, and the kinds that need the manual check named on every door page."""

from __future__ import annotations

import pytest

from onboarding.models import CheckIn, DoorRequest, Registration
from tests.unit.test_door import (  # noqa: F401 - the fixtures are used by name
    client_class,
    door_request_page,
    issued_registration,
    present,
    result_of,
    staff,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def swiyu_and_demo(settings):
    settings.REGISTERFT_ISSUERS = ("swiyu", "demo")
    settings.SWIYU_MANAGEMENT_URL = "http://swiyu.example:8080"
    settings.SWIYU_CREDENTIAL_CONFIGURATION_ID = "registerft"
    settings.SWIYU_WEBHOOK_KEY = "hook"


def test_it_checks_the_wallet_that_can_be_checked_and_names_the_other_for_the_manual_check(staff, client_class):
    wallet = client_class()
    issued_registration(wallet)
    door_request, page = door_request_page(staff)
    assert door_request.backend == "demo"
    assert "For: Demo wallet" in page
    assert "The door cannot check these wallets yet: swiyu or another OpenID wallet." in page
    assert 'href="/door/manual/"' in page
    present(wallet, page)
    assert 'data-result="green"' in result_of(staff, door_request)


def test_a_swiyu_visitor_is_checked_in_by_name(staff):
    registration = Registration.objects.create(
        backend="swiyu", invitation_id="", invitation_url="", state=Registration.State.ISSUED,
        attributes={"first_name": "Grace", "last_name": "Hopper"},
    )
    page = staff.get("/door/manual/", {"q": "Hopper"}).content.decode()
    assert "The door cannot check these wallets yet" in page and "Hopper" in page
    response = staff.post("/door/manual/", {"registration": str(registration.pk)})
    assert 'data-result="green"' in staff.get(response["Location"]).content.decode()
    assert CheckIn.objects.get().method == "manual"


def test_staff_switch_between_the_kinds_the_door_can_check(staff, settings):
    settings.REGISTERFT_ISSUERS = ("demo", "acapy", "swiyu")
    settings.ACAPY_ADMIN_URL = "http://acapy.example:8031"
    page = door_request_page(staff)[1]
    assert 'href="/door/?wallet=acapy"' in page and "DIDComm wallet" in page
    assert staff.get("/door/?wallet=carrier-pigeon").status_code == 302  # ignored: the demo's request again
    assert DoorRequest.objects.order_by("created_at").last().backend == "demo"


def test_with_one_backend_the_door_says_nothing_of_other_wallets(staff, settings):
    settings.REGISTERFT_ISSUERS = ("demo",)
    page = door_request_page(staff)[1]
    assert "For:" not in page and "cannot check these wallets" not in page and "Another kind" not in page


@pytest.mark.parametrize(
    ("path", "header"), [("/webhooks/acapy/topic/connections/", "HTTP_X_API_KEY"), ("/webhooks/swiyu/", "HTTP_X_API_KEY")]
)
def test_a_webhook_of_a_backend_the_portal_does_not_run_is_not_found(client, settings, path, header):
    settings.REGISTERFT_ISSUERS = ("demo",)
    settings.ACAPY_WEBHOOK_SECRET = settings.SWIYU_WEBHOOK_KEY = "lingering-key"
    assert client.post(path, "{}", content_type="application/json", **{header: "lingering-key"}).status_code == 404


def test_each_backend_keeps_its_own_webhook_and_key(client, settings):
    settings.REGISTERFT_ISSUERS = ("swiyu", "acapy")
    settings.ACAPY_WEBHOOK_SECRET = "acapy-key"
    settings.SWIYU_WEBHOOK_KEY = "swiyu-key"
    post = client.post
    assert post("/webhooks/acapy/topic/basicmessages/", "{}", content_type="application/json",
                HTTP_X_API_KEY="swiyu-key").status_code == 401
    assert post("/webhooks/acapy/topic/basicmessages/", "{}", content_type="application/json",
                HTTP_X_API_KEY="acapy-key").status_code == 204
    assert post("/webhooks/swiyu/", "{}", content_type="application/json", HTTP_X_API_KEY="acapy-key").status_code == 401
