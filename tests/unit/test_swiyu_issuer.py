"""The swiyu backend against its management API, mocked at the HTTP boundary; and its webhook."""

import json
from datetime import datetime, timezone

import pytest
import requests
import responses
from django.db import connection
from django.test.utils import CaptureQueriesContext
from responses import matchers

from onboarding.issuers.base import CredentialState, Flow, IssuerRejected, IssuerTimeout, IssuerUnavailable
from onboarding.issuers.swiyu import ClientCredentials, SwiyuIssuer
from onboarding.models import Registration

BASE = "http://issuer.test"
CREDENTIALS = f"{BASE}/management/api/credentials"
ID = "7d3e1c64-5b0a-4d57-9f7e-2f5b9d7c8a11"
DEEPLINK = "swiyu://?credential_offer=%7B%22credential_issuer%22%3A%22https%3A%2F%2Fissuer.test%22%7D"
DETAILS = {"first_name": "Ada", "last_name": "Lovelace"}


def issuer(**kwargs) -> SwiyuIssuer:
    defaults = {"management_url": BASE, "credential_configuration_id": "registerft_sd_jwt", "timeout": 2,
                "offer_seconds": 600, "bearer_token": "gateway-token"}
    return SwiyuIssuer(**(defaults | kwargs))


@responses.activate(assert_all_requests_are_fired=True)
def test_it_creates_the_offer_with_the_details_validity_and_pin():
    responses.post(CREDENTIALS, json={"management_id": ID, "offer_id": ID, "offer_deeplink": DEEPLINK, "tx_code": "482913"},
                   match=[matchers.json_params_matcher({
                       "metadata_credential_supported_id": ["registerft_sd_jwt"], "credential_subject_data": DETAILS,
                       "offer_validity_seconds": 600, "credential_valid_until": "2030-01-01T00:00:00+00:00",
                       "status_lists": ["https://status.test/list.jwt"], "tx_code_config": {"use_tx_code": True}}),
                       matchers.header_matcher({"Authorization": "Bearer gateway-token"})])
    offer = issuer(use_pin=True, status_lists=["https://status.test/list.jwt"],
                   valid_until=datetime(2030, 1, 1, tzinfo=timezone.utc)).offer_credential(
        connection_id="", attributes=DETAILS, reference="r")
    assert (offer.process_id, offer.url, offer.pin) == (ID, DEEPLINK, "482913")
    assert issuer().flow == Flow.OFFER_FIRST


@responses.activate
def test_it_handles_an_offer_without_deeplink_or_without_the_pin_it_asked_for():
    responses.post(CREDENTIALS, json={"management_id": ID})
    with pytest.raises(IssuerRejected):
        issuer().offer_credential(connection_id="", attributes=DETAILS, reference="r")
    responses.replace(responses.POST, CREDENTIALS, json={"management_id": ID, "offer_deeplink": DEEPLINK})
    with pytest.raises(IssuerRejected):
        issuer(use_pin=True).offer_credential(connection_id="", attributes=DETAILS, reference="r")


@pytest.mark.parametrize(("answer", "error"), [
    ({"status": 400, "body": "bad"}, IssuerRejected),
    ({"status": 503, "body": "busy"}, IssuerUnavailable),
    ({"status": 200, "body": "not json"}, IssuerRejected),
    ({"body": requests.ConnectionError("refused")}, IssuerUnavailable),
    ({"body": requests.Timeout("slow")}, IssuerTimeout),
])
@responses.activate
def test_it_turns_every_fault_into_an_issuer_error(answer, error):
    responses.post(CREDENTIALS, **answer)
    with pytest.raises(error):
        issuer().offer_credential(connection_id="", attributes=DETAILS, reference="r")


@pytest.mark.parametrize(("status", "state"), [
    ("OFFERED", CredentialState.PENDING), ("IN_PROGRESS", CredentialState.PENDING),
    ("DEFERRED", CredentialState.PENDING), ("ISSUED", CredentialState.ACCEPTED),
    ("EXPIRED", CredentialState.FAILED), ("CANCELLED", CredentialState.FAILED), ("REVOKED", CredentialState.FAILED),
])
@responses.activate
def test_it_reads_each_status_and_never_takes_expired_or_cancelled_for_success(status, state):
    responses.get(f"{CREDENTIALS}/{ID}/status", json={"status": status})
    answer = issuer().credential_status(process_id=ID)
    assert answer.state == state and answer.detail == status


@responses.activate
def test_it_handles_an_unknown_status_as_an_error():
    responses.get(f"{CREDENTIALS}/{ID}/status", json={"status": "WHATEVER"})
    with pytest.raises(IssuerRejected):
        issuer().credential_status(process_id=ID)


@pytest.mark.parametrize(("status", "target"), [("ISSUED", "REVOKED"), ("OFFERED", "CANCELLED")])
@responses.activate(assert_all_requests_are_fired=True)
def test_withdrawing_revokes_an_issued_credential_and_cancels_an_offer(status, target):
    responses.get(f"{CREDENTIALS}/{ID}/status", json={"status": status})
    responses.patch(f"{CREDENTIALS}/{ID}/status", json={"id": ID, "status": target},
                    match=[matchers.query_param_matcher({"credentialStatus": target})])
    assert issuer().revoke_credential(process_id=ID) is True


@responses.activate(assert_all_requests_are_fired=True)
def test_it_fetches_an_oauth_token_by_client_credentials_keeps_it_and_fetches_again_on_401():
    token_url = "http://auth.test/token"
    responses.post(token_url, json={"access_token": "first", "expires_in": 300},
                   match=[matchers.urlencoded_params_matcher({"grant_type": "client_credentials", "scope": "issue"})])
    oauth = ClientCredentials(token_url=token_url, client_id="portal", client_secret="s", scope="issue", timeout=2)
    backend = issuer(bearer_token="", oauth=oauth)
    responses.get(f"{CREDENTIALS}/{ID}/status", json={"status": "OFFERED"},
                  match=[matchers.header_matcher({"Authorization": "Bearer first"})])
    backend.credential_status(process_id=ID)
    backend.credential_status(process_id=ID)
    assert len([c for c in responses.calls if c.request.url == token_url]) == 1

    responses.replace(responses.GET, f"{CREDENTIALS}/{ID}/status", status=401)
    responses.replace(responses.POST, token_url, json={"access_token": "second", "expires_in": 300})
    responses.add(responses.GET, f"{CREDENTIALS}/{ID}/status", json={"status": "ISSUED"},
                  match=[matchers.header_matcher({"Authorization": "Bearer second"})])
    assert backend.credential_status(process_id=ID).state == CredentialState.ACCEPTED


@responses.activate
def test_a_token_endpoint_that_refuses_is_an_issuer_error():
    responses.post("http://auth.test/token", status=401)
    oauth = ClientCredentials(token_url="http://auth.test/token", client_id="p", client_secret="s", scope="", timeout=2)
    with pytest.raises(IssuerRejected):
        issuer(bearer_token="", oauth=oauth).credential_status(process_id=ID)


def test_it_has_no_connection_step():
    with pytest.raises(IssuerRejected):
        issuer().create_invitation(label="x")


# --- The webhook ------------------------------------------------------------------------------


@pytest.fixture
def swiyu_settings(settings):
    settings.REGISTERFT_ISSUERS = ("swiyu",)
    settings.SWIYU_MANAGEMENT_URL = BASE
    settings.SWIYU_CREDENTIAL_CONFIGURATION_ID = "registerft_sd_jwt"
    settings.SWIYU_WEBHOOK_KEY = "hook-key"
    return settings


def offered(process_id: str = ID) -> Registration:
    from django.utils import timezone as tz

    return Registration.objects.create(backend="swiyu", state=Registration.State.OFFERED, process_id=process_id,
                                       invitation_id="", invitation_url=DEEPLINK, offered_at=tz.now(), checked_at=tz.now())


def post_event(client, body, key="hook-key"):
    return client.post("/webhooks/swiyu/", data=json.dumps(body), content_type="application/json",
                       headers={"x-api-key": key})


@pytest.mark.django_db
def test_a_status_on_the_way_is_acknowledged_without_a_query(client, swiyu_settings):
    registration = offered()
    with CaptureQueriesContext(connection) as queries:
        response = post_event(client, {"subject_id": ID, "event_type": "VC_STATUS_CHANGED", "event": "IN_PROGRESS",
                                       "event_trigger": "CREDENTIAL_MANAGEMENT", "timestamp": "2030-01-01T00:00:00Z"})
    assert response.status_code == 204 and len(queries) == 0
    registration.refresh_from_db()
    assert registration.state == Registration.State.OFFERED


@pytest.mark.django_db
def test_the_webhook_applies_a_status_change_to_the_registration(client, swiyu_settings):
    registration = offered()
    response = post_event(client, {"subject_id": ID, "event_type": "VC_STATUS_CHANGED", "event": "ISSUED",
                                   "event_trigger": "CREDENTIAL_MANAGEMENT", "timestamp": "2030-01-01T00:00:00Z"})
    assert response.status_code == 204
    registration.refresh_from_db()
    assert registration.state == Registration.State.ISSUED


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["EXPIRED", "CANCELLED"])
def test_the_webhook_takes_an_expired_or_cancelled_offer_for_a_failure(client, swiyu_settings, status):
    registration = offered()
    post_event(client, {"subject_id": ID, "event_type": "VC_STATUS_CHANGED", "event": status})
    registration.refresh_from_db()
    assert registration.state == Registration.State.FAILED


@pytest.mark.django_db
def test_the_webhook_refuses_a_wrong_key_and_ignores_other_events(client, swiyu_settings):
    registration = offered()
    body = {"subject_id": ID, "event_type": "VC_STATUS_CHANGED", "event": "ISSUED"}
    assert post_event(client, body, key="wrong").status_code == 401
    assert post_event(client, {"subject_id": ID, "event_type": "ISSUANCE_ERROR", "event": "KEY_BINDING_ERROR"}).status_code == 204
    assert post_event(client, {**body, "event": "NONSENSE"}).status_code == 400
    registration.refresh_from_db()
    assert registration.state == Registration.State.OFFERED


@pytest.mark.django_db
def test_the_offer_page_shows_the_offer_by_reference_and_the_pin_never_in_the_qr(client, swiyu_settings):
    swiyu_settings.SWIYU_USE_PIN = True
    client.cookies["django_language"] = "en"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.post(CREDENTIALS, json={"management_id": ID, "offer_deeplink": DEEPLINK, "tx_code": "482913"})
        mocked.get(f"{CREDENTIALS}/{ID}/status", json={"status": "OFFERED"})
        assert client.get("/")["Location"] == "/name"
        client.post("/name", {"first_name": "Ada", "last_name": "Lovelace", "institution": "AE"})
        html = client.get("/offer/").content.decode()
    registration = Registration.objects.get()
    link = f"swiyu://?credential_offer_uri=http%3A%2F%2Ftestserver%2Fo%2F{registration.short_code}"
    assert f'value="{link}"' in html
    assert "482913" in html and "482913" not in link
    assert client.get(f"/o/{registration.short_code}").json() == {"credential_issuer": "https://issuer.test"}
