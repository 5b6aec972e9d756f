"""pytest fixtures for the real OpenID4VCI components: import them into a test module (as
tests/integration/test_swiyu_flow.py and tests/browser/test_swiyu_qr.py do).

The stand-in issuer and the holder start once per test run and are stopped by their pids. With
CI=true a missing Node or a failed install fails the run; elsewhere the tests are skipped with the
reason.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from onboarding.issuers import get_issuer
from tests.oid4vc.components import Components, ComponentsSetupError, Holder, NodeProcess, ensure_components

CONFIGURATION_ID = "registerft-visitor"
WEBHOOK_KEY = secrets.token_hex(24)
BEARER_TOKEN = secrets.token_hex(24)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class StandIn:
    """swiyu's management API (the stand-in) and the real OpenID4VCI issuer behind it."""

    url: str

    def issuer_key(self) -> dict:
        """The issuer's public key (not part of swiyu's API: the stand-in tells the tests)."""
        return requests.get(self.url + "/stand-in/issuer", timeout=10).json()

    def status(self, management_id: str) -> str:
        response = requests.get(
            f"{self.url}/management/api/credentials/{management_id}/status",
            headers={"Authorization": f"Bearer {BEARER_TOKEN}"}, timeout=10,
        )
        response.raise_for_status()
        return response.json()["status"]


@pytest.fixture(scope="session")
def oid4vc_components() -> Components:
    try:
        return ensure_components()
    except ComponentsSetupError as err:
        if in_ci():
            pytest.fail(f"CI needs the OpenID4VCI test components: {err}", pytrace=False)
        pytest.skip(str(err))


@pytest.fixture(scope="session")
def oid4vc_log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("oid4vc")


def started(process: NodeProcess, request: pytest.FixtureRequest) -> NodeProcess:
    request.addfinalizer(process.stop)  # first, so that a half-started process is stopped too
    process.start()
    return process


@pytest.fixture(scope="session")
def swiyu_standin(oid4vc_components, oid4vc_log_dir, live_server, request) -> StandIn:
    """Posts its webhooks to the live portal, with swiyu's x-api-key."""
    process = NodeProcess(
        oid4vc_components, "issuer.mjs", oid4vc_log_dir, "/actuator/health",
        env={"BEARER_TOKEN": BEARER_TOKEN, "CONFIGURATION_ID": CONFIGURATION_ID,
             "WEBHOOK_CALLBACK_URI": f"{live_server.url}/webhooks/swiyu/", "WEBHOOK_API_KEY_VALUE": WEBHOOK_KEY},
    )
    return StandIn(started(process, request).url)


@pytest.fixture(scope="session")
def oid4vc_holder(oid4vc_components, oid4vc_log_dir, request) -> Holder:
    return Holder(started(NodeProcess(oid4vc_components, "holder.mjs", oid4vc_log_dir, "/health"), request))


def point_at_swiyu_standin(settings, standin) -> None:
    """The swiyu backend's settings for the stand-in management API: a bearer token, its webhook
    key, a PIN on every offer."""
    settings.SWIYU_MANAGEMENT_URL = standin.url
    settings.SWIYU_CREDENTIAL_CONFIGURATION_ID = CONFIGURATION_ID
    settings.SWIYU_BEARER_TOKEN = BEARER_TOKEN
    settings.SWIYU_OAUTH_TOKEN_URL = ""
    settings.SWIYU_WEBHOOK_KEY = WEBHOOK_KEY
    settings.SWIYU_USE_PIN = True
    settings.SWIYU_STATUS_LISTS = []
    settings.REGISTERFT_OFFER_SCHEME = ""
    settings.REGISTERFT_ISSUER_TIMEOUT = 10.0


@pytest.fixture
def swiyu_portal(settings, swiyu_standin, live_server) -> Iterator[str]:
    """The live portal's URL, with the swiyu backend pointed at the stand-in, a PIN on every offer."""
    settings.REGISTERFT_ISSUERS = ("swiyu",)
    point_at_swiyu_standin(settings, swiyu_standin)
    get_issuer.cache_clear()
    yield live_server.url
    get_issuer.cache_clear()
