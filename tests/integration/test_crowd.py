"""A crowd at the door with the real agents: 30 visitors start within one second, and the portal's
line at the door (onboarding/throttle.py) keeps the issuer agent below its stall, so every one of
them gets the credential and the agent never answers 504 (or too late)."""

from __future__ import annotations

import logging
import os
import re
import threading
import time

import pytest
import requests

from onboarding.models import Registration
from tests.integration.agents import Agent
from tests.integration.conftest import HOLDER_FLAGS, started_agent
from tests.integration.test_acapy_flow import Visitor, details, wallet_receives

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

# The measurement of the bound in docs/admission.md: REGISTERFT_CROWD_BOUND=N (0: no line) and
# REGISTERFT_CROWD_VISITORS=N run this same test with another bound or crowd.
CROWD = int(os.environ.get("REGISTERFT_CROWD_VISITORS", "30"))
# Thirty phones are thirty wallets. A few fresh holder agents share them out: one agent with one
# SQLite wallet for all (and the earlier tests' records) stalls on its own wallet pool, which is
# the stand-in wallet's limit, not the portal's or the issuer's.
WALLETS = 3
TIME_LIMIT = 240.0
INVITATION_LINK = re.compile(r'id="invitation-url"[^>]*value="([^"]+)"')


class CrowdVisitor(Visitor):
    """A visitor who may first wait in line, and who reports instead of asserting (a thread's
    assertion would not fail the test)."""

    def __init__(self, portal: str, deadline: float):
        super().__init__(portal)
        self.deadline = deadline
        self.waited = False

    def next_of(self, path: str, target: str) -> bool:
        while time.monotonic() < self.deadline:
            status = self.status(path)
            if status["next"] == target:
                return True
            if status["state"] == "failed" or status["next"]:
                raise AssertionError(f"{path}: {status}")
            time.sleep(0.3)
        raise AssertionError(f"{path} did not move on to {target} in time")

    def link_after_the_line(self) -> str:
        while True:
            page = self.get("/")
            assert page.status_code == 200, page.status_code
            match = INVITATION_LINK.search(page.text)
            if match:
                return match.group(1)
            assert "data-queue-position" in page.text, page.text[:300]
            self.waited = True
            self.next_of("/queue/status", "/")

    def complete(self, holder: Agent) -> None:
        wallet_receives(self.link_after_the_line(), holder)
        self.next_of("/check_connection/status", "/name")
        sent = self.submit_details(details())
        assert sent.status_code == 302, sent.status_code
        self.next_of("/loading/status", "/success")
        assert self.get("/success").status_code == 200


@pytest.fixture
def wallets(acapy_executable, tmp_path, request) -> list[Agent]:
    holders = [
        Agent(acapy_executable, f"crowd{number}", tmp_path, extra_args=[*HOLDER_FLAGS, "--auto-respond-credential-offer"])
        for number in range(WALLETS)
    ]
    return [started_agent(holder, request) for holder in holders]


def test_thirty_visitors_at_once_all_get_their_credential_and_the_agent_never_stalls(
    portal, settings, wallets, caplog
):
    caplog.set_level(logging.INFO, logger="onboarding.issuer")
    if os.environ.get("REGISTERFT_CROWD_BOUND"):
        settings.REGISTERFT_MAX_IN_PROGRESS = int(os.environ["REGISTERFT_CROWD_BOUND"])
    deadline = time.monotonic() + TIME_LIMIT
    visitors = [CrowdVisitor(portal, deadline) for _ in range(CROWD)]
    errors: list[str] = []
    lock = threading.Lock()

    def run(visitor: CrowdVisitor, delay: float, wallet: Agent) -> None:
        time.sleep(delay)
        try:
            visitor.complete(wallet)
        except (AssertionError, requests.RequestException, KeyError, ValueError) as err:
            with lock:
                errors.append(repr(err)[:300])

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(visitor, i / CROWD, wallets[i % WALLETS]), daemon=True)
               for i, visitor in enumerate(visitors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()) + 30)
    seconds = time.monotonic() - started

    calls = [match.groups() for record in caplog.records
             if (match := re.search(r"backend=acapy operation=\w+ outcome=(\w+) duration_ms=(\d+)", record.getMessage()))]
    outcomes = [outcome for outcome, _duration in calls]
    slowest = max((int(duration) for _outcome, duration in calls), default=0)
    issued = Registration.objects.filter(state=Registration.State.ISSUED).count()
    print(f"\n{CROWD} visitors with the real agents in {seconds:.1f} s, "
          f"bound REGISTERFT_MAX_IN_PROGRESS={settings.REGISTERFT_MAX_IN_PROGRESS}: {issued} issued; "
          f"{sum(v.waited for v in visitors)} waited in line; {len(outcomes)} agent calls, "
          f"{sum(outcome != 'ok' for outcome in outcomes)} failed, slowest {slowest} ms")

    assert not any(thread.is_alive() for thread in threads), "some visitors were still under way"
    assert not errors, f"{len(errors)} visitors failed: {errors[:5]}"
    assert issued == CROWD
    assert outcomes and all(outcome == "ok" for outcome in outcomes), sorted(set(outcomes))
    # No offer overtook the connection it was sent on (the wallet would drop it and the visitor wait).
    for wallet in wallets:
        log = (wallet.workdir / f"{wallet.label}.log").read_text(errors="replace")
        assert "No connection" not in log, log[-2000:]
