"""Two real ACA-Py agents (an issuer and a wallet) and the portal as a live server.

With CI=true a missing Python 3.13 or agent fails the run; elsewhere these tests are skipped with the
instruction to install it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from onboarding.issuers import get_issuer
from tests.integration.agents import Agent, AgentSetupError, ensure_acapy

WEBHOOK_SECRET = secrets.token_hex(24)
HOLDER_FLAGS = ["--auto-accept-invites", "--auto-accept-requests", "--auto-store-credential"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def acapy_executable() -> Path:
    try:
        return ensure_acapy()
    except AgentSetupError as err:
        if in_ci():
            pytest.fail(f"CI needs the ACA-Py agent: {err}", pytrace=False)
        pytest.skip(str(err))


@pytest.fixture(scope="session")
def agent_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("agents")


def started_agent(agent: Agent, request: pytest.FixtureRequest) -> Agent:
    # The finalizer comes first, so that an agent is stopped even when starting it fails halfway.
    request.addfinalizer(agent.stop)
    agent.start()
    return agent


@pytest.fixture(scope="session")
def issuer_agent(acapy_executable, agent_dir, live_server, request) -> Agent:
    """The portal's issuer, posting its webhooks to the live server."""
    agent = Agent(
        acapy_executable, "issuer", agent_dir, webhook_url=f"{live_server.url}/webhooks/acapy#{WEBHOOK_SECRET}"
    )
    return started_agent(agent, request)


@pytest.fixture(scope="session")
def holder_agent(acapy_executable, agent_dir, request) -> Agent:
    """A wallet that connects, accepts the offer and stores the credential by itself."""
    agent = Agent(acapy_executable, "holder", agent_dir,
                  extra_args=[*HOLDER_FLAGS, "--auto-respond-credential-offer"])
    return started_agent(agent, request)


@pytest.fixture(scope="session")
def refusing_holder_agent(acapy_executable, agent_dir, request) -> Agent:
    """A wallet that connects but leaves a credential offer to its user (the test)."""
    agent = Agent(acapy_executable, "refuser", agent_dir, extra_args=HOLDER_FLAGS)
    return started_agent(agent, request)


@pytest.fixture
def portal(settings, issuer_agent, live_server) -> Iterator[str]:
    """The live portal's URL, with the ACA-Py backend pointed at the issuer agent."""
    settings.REGISTERFT_ISSUERS = ("acapy",)
    settings.ACAPY_ADMIN_URL = issuer_agent.admin_url
    settings.ACAPY_ADMIN_API_KEY = issuer_agent.api_key
    settings.ACAPY_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.ACAPY_ISSUER_DID = ""
    settings.REGISTERFT_ISSUER_TIMEOUT = 5.0
    get_issuer.cache_clear()  # built from these settings on first use
    yield live_server.url
    get_issuer.cache_clear()
