"""The swiyu backend speaks the names of swiyu's published management API.

The names below are copied from the OpenAPI description of swiyu-admin-ch/swiyu-issuer,
``openapi.yaml`` at commit 04dfa77a705d7651ef41890f688b970cd9e93c3e (openapi 3.1.0, "Issuer Service
API"; its ``info`` carries no version of its own): the schemas CreateCredentialOfferRequest,
CredentialWithDeeplinkResponse, StatusResponse, CredentialStatusType,
UpdateCredentialStatusRequestType, TransactionCodeConfig and WebhookCallback. When swiyu changes
its API, update them here from the new description, with its commit, and the test shows what the
backend must follow.
"""

from pathlib import Path

from onboarding.issuers import swiyu

OPENAPI_SOURCE = ("swiyu-admin-ch/swiyu-issuer", "openapi.yaml", "04dfa77a705d7651ef41890f688b970cd9e93c3e")

CREATE_OFFER_REQUEST = {
    "metadata_credential_supported_id", "credential_subject_data", "credential_metadata", "offer_validity_seconds",
    "deferred_offer_validity_seconds", "credential_valid_until", "credential_valid_from", "status_lists",
    "configuration_override", "tx_code_config",
}
CREATE_OFFER_RESPONSE = {"management_id", "offer_id", "offer_deeplink", "tx_code"}
TX_CODE_CONFIG = {"use_tx_code", "description", "length"}
CREDENTIAL_STATUS_TYPE = {
    "INIT", "OFFERED", "CANCELLED", "IN_PROGRESS", "DEFERRED", "READY", "ISSUED", "SUSPENDED", "REVOKED",
    "REQUESTED", "EXPIRED",
}
UPDATE_STATUS_REQUEST_TYPE = {"CANCELLED", "READY", "ISSUED", "SUSPENDED", "REVOKED"}
WEBHOOK_CALLBACK = {"subject_id", "event_type", "event", "event_description", "event_trigger", "timestamp"}
WEBHOOK_EVENT_TYPES = {"VC_STATUS_CHANGED", "VC_DEFERRED", "ISSUANCE_ERROR"}
PATHS = {"/management/api/credentials", "/management/api/credentials/{credentialManagementId}/status"}

ROOT = Path(__file__).resolve().parents[2]


def test_the_backend_reads_every_status_of_the_published_api_and_no_other():
    assert set(swiyu.STATUSES) == CREDENTIAL_STATUS_TYPE


def test_the_backend_writes_only_statuses_the_published_api_accepts():
    assert {"REVOKED", "CANCELLED"} <= UPDATE_STATUS_REQUEST_TYPE
    assert set(swiyu.REVOKE_WHEN_ISSUED) | set(swiyu.FINAL) <= CREDENTIAL_STATUS_TYPE


def test_the_offer_the_backend_sends_uses_the_published_field_names():
    from datetime import datetime, timezone

    backend = swiyu.SwiyuIssuer(
        management_url="http://issuer.test", credential_configuration_id="c", timeout=1, offer_seconds=60,
        status_lists=["s"], use_pin=True, valid_until=datetime(2030, 1, 1, tzinfo=timezone.utc),
    )
    payload = backend.offer_payload({"first_name": "Ada"})
    assert set(payload) <= CREATE_OFFER_REQUEST
    assert set(payload["tx_code_config"]) <= TX_CODE_CONFIG


def test_the_backend_and_its_webhook_read_the_published_answer_and_callback_names():
    source = (ROOT / "onboarding/issuers/swiyu.py").read_text()
    webhook = (ROOT / "onboarding/views/webhooks.py").read_text()
    for name in ("management_id", "offer_deeplink", "tx_code", "credentialStatus"):
        assert f'"{name}"' in source, name
    assert {"management_id", "offer_deeplink", "tx_code"} <= CREATE_OFFER_RESPONSE
    for name in ("subject_id", "event_type", "event", "VC_STATUS_CHANGED"):
        assert f'"{name}"' in webhook, name
    assert {"subject_id", "event_type", "event"} <= WEBHOOK_CALLBACK and "VC_STATUS_CHANGED" in WEBHOOK_EVENT_TYPES
    assert "/management/api/credentials{path}" in source and '(f"/{process_id}/status")' in source
    assert {"/management/api/credentials", "/management/api/credentials/{credentialManagementId}/status"} == PATHS


def test_the_integration_tests_stand_in_speaks_the_same_published_names():
    """tests/oid4vc/node/issuer.mjs stands in for swiyu's issuer in the integration tests: it must
    read and write the names the backend is checked against above, and no status of its own."""
    import re

    stand_in = (ROOT / "tests/oid4vc/node/issuer.mjs").read_text()
    for name in ("metadata_credential_supported_id", "credential_subject_data", "offer_validity_seconds",
                 "credential_valid_until", "tx_code_config", "use_tx_code"):
        assert f".{name}" in stand_in, name
    assert {"management_id", "offer_id", "offer_deeplink", "tx_code"} == CREATE_OFFER_RESPONSE
    for name in CREATE_OFFER_RESPONSE:
        assert f"{name}:" in stand_in, name
    for name in ("subject_id", "event_type", "event", "event_trigger", "event_description", "timestamp"):
        assert f"{name}:" in stand_in and name in WEBHOOK_CALLBACK, name
    assert "'VC_STATUS_CHANGED'" in stand_in and "credentialStatus" in stand_in
    assert "app.use('/management/api', management)" in stand_in
    assert "'/credentials'" in stand_in and "'/credentials/:id/status'" in stand_in
    emitted = set(re.findall(r"return '([A-Z_]+)'", stand_in))
    assert emitted and emitted <= CREDENTIAL_STATUS_TYPE
