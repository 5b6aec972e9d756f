"""Withdrawing a registration revokes its credential where the issuer can (swiyu's management
API, mocked at the HTTP boundary); the withdrawal stands when the issuer cannot be reached."""

from __future__ import annotations

import logging

import pytest
import requests
import responses
from responses import matchers

from onboarding import checkin
from onboarding.issuers import get_issuer
from onboarding.models import Registration

pytestmark = pytest.mark.django_db

BASE = "http://issuer.test"
ID = "7d3e1c64-5b0a-4d57-9f7e-2f5b9d7c8a11"
STATUS = f"{BASE}/management/api/credentials/{ID}/status"


@pytest.fixture
def swiyu(settings):
    settings.REGISTERFT_ISSUERS = ("swiyu",)
    settings.SWIYU_MANAGEMENT_URL = BASE
    settings.SWIYU_BEARER_TOKEN = "gateway-token"
    settings.SWIYU_OAUTH_TOKEN_URL = ""
    settings.REGISTERFT_ISSUER_TIMEOUT = 2.0
    get_issuer.cache_clear()
    yield
    get_issuer.cache_clear()


def issued(backend: str = "swiyu", process_id: str = ID) -> Registration:
    return Registration.objects.create(
        backend=backend, invitation_id="i", invitation_url="/x", process_id=process_id,
        state=Registration.State.ISSUED, attributes={"first_name": "Ada"},
    )


@responses.activate(assert_all_requests_are_fired=True)
def test_it_revokes_the_credential_at_the_issuer_once(swiyu, caplog):
    caplog.set_level(logging.INFO, logger="onboarding.door")
    registration = issued()
    responses.get(STATUS, json={"status": "ISSUED"})
    responses.patch(STATUS, json={"id": ID, "status": "REVOKED"},
                    match=[matchers.query_param_matcher({"credentialStatus": "REVOKED"}),
                           matchers.header_matcher({"Authorization": "Bearer gateway-token"})])
    assert checkin.registration_withdraw(registration=registration) is True
    assert registration.withdrawn_at is not None
    assert "revoked=yes" in caplog.text
    # Withdrawn already: nothing more is asked of the issuer.
    assert checkin.registration_withdraw(registration=registration) is False
    assert len(responses.calls) == 2


@responses.activate(assert_all_requests_are_fired=True)
def test_it_cancels_an_offer_not_yet_taken(swiyu):
    responses.get(STATUS, json={"status": "OFFERED"})
    responses.patch(STATUS, json={"id": ID, "status": "CANCELLED"},
                    match=[matchers.query_param_matcher({"credentialStatus": "CANCELLED"})])
    assert checkin.registration_withdraw(registration=issued()) is True


@pytest.mark.parametrize("answer", [
    {"status": 503, "body": "busy"},
    {"status": 400, "body": "bad"},
    {"body": requests.ConnectionError("refused")},
    {"body": requests.Timeout("slow")},
])
@responses.activate
def test_the_withdrawal_stands_when_the_issuer_cannot_revoke(swiyu, caplog, answer):
    responses.get(STATUS, json={"status": "ISSUED"})
    responses.patch(STATUS, **answer)
    registration = issued()
    assert checkin.registration_withdraw(registration=registration) is True
    assert Registration.objects.get(pk=registration.pk).withdrawn_at is not None
    assert "not revoked at the issuer" in caplog.text and "revoked=failed" in caplog.text


@responses.activate(assert_all_requests_are_fired=True)
def test_it_asks_no_issuer_for_another_backends_registration_or_one_without_a_credential(swiyu):
    assert checkin.registration_withdraw(registration=issued(backend="acapy")) is True
    assert checkin.registration_withdraw(registration=issued(process_id="")) is True
    assert not responses.calls


def test_a_backend_that_cannot_revoke_withdraws_without_a_call(settings, caplog):
    caplog.set_level(logging.INFO, logger="onboarding.door")
    settings.REGISTERFT_ISSUERS = ("demo",)
    get_issuer.cache_clear()
    assert checkin.registration_withdraw(registration=issued(backend="demo", process_id="p-1")) is True
    assert "revoked=no" in caplog.text
    get_issuer.cache_clear()
