"""A crowd on loopback: gunicorn with the production settings behind a (simulated) TLS proxy, the
stand-in issuer playing ACA-Py and the wallets, and simulated visitors completing the flow at once.

CI runs REGISTERFT_LOAD_VISITORS (default 30) visitors; the full event is a documented command
(docs/load-test.md): ``REGISTERFT_LOAD_VISITORS=300 .venv/bin/python -m pytest tests/load``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.fakes import FakeAgent
from tests.load.visitors import run_crowd
from tests.multi_instance.services import BASE_DIR, Process, control_socket_args, free_port, manage
from tests.processes import production_environ

VISITORS = int(os.environ.get("REGISTERFT_LOAD_VISITORS", "30"))
# Seconds for the whole crowd; the full 300 get more.
TIME_LIMIT = float(os.environ.get("REGISTERFT_LOAD_TIME_LIMIT", max(120, VISITORS * 1.5)))
WEBHOOK_SECRET = secrets.token_hex(24)
ADMIN_API_KEY = secrets.token_hex(24)

pytestmark = pytest.mark.timeout(int(TIME_LIMIT) + 240)


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="registerft-load-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def portal(workdir) -> Iterator[tuple[str, FakeAgent, Process]]:
    """gunicorn with production settings, and the stand-in issuer sending it webhooks."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    standin = FakeAgent(
        connect_delay=0.2, accept_delay=0.2,
        webhook_url=f"{base_url}/webhooks/acapy", webhook_secret=WEBHOOK_SECRET,
        # The agent reaches the portal through the same proxy as the visitors.
        webhook_headers={"X-Forwarded-Proto": "https"},
        api_key=ADMIN_API_KEY,
    )
    issuer_url = standin.start()
    environ = production_environ(
        workdir,
        REGISTERFT_ISSUERS="acapy",
        ACAPY_ADMIN_URL=issuer_url,
        ACAPY_ADMIN_API_KEY=ADMIN_API_KEY,
        ACAPY_WEBHOOK_SECRET=WEBHOOK_SECRET,
        REGISTERFT_POLL_INTERVAL_MS="500",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="2",
        GUNICORN_THREADS="8",
    )
    (workdir / "var").mkdir()
    manage(environ, "migrate", "--noinput")
    manage(environ, "collectstatic", "--noinput")
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", *control_socket_args(workdir),
               "registerft.wsgi"]
    process = Process("portal", command, workdir / "gunicorn.log", environ=environ, cwd=BASE_DIR)
    try:
        process.start()
        process.wait_until(
            lambda: requests.get(f"{base_url}/readyz", timeout=3).status_code == 200, what="ready (/readyz)"
        )
        yield base_url, standin, process
    finally:
        process.stop()
        standin.stop()


def test_a_crowd_completes_the_flow_without_errors_or_lost_sessions(portal):
    base_url, standin, process = portal

    outcomes = run_crowd(base_url=base_url, count=VISITORS, start_within=1.0, time_limit=TIME_LIMIT)

    failed = [outcome for outcome in outcomes if not outcome.reached_success or outcome.errors]
    report = "\n".join(f"visitor {o.number}: {o.errors}" for o in failed[:10])
    assert len(outcomes) == VISITORS, "some visitors never finished"
    assert not failed, f"{len(failed)} of {VISITORS} visitors did not reach success:\n{report}\n{process.log_tail()}"
    log = process.log_tail(200_000)
    assert "Traceback" not in log
    assert " 500 " not in log
    summary = standin.summary()
    assert summary["completed"] == VISITORS
    assert summary["webhooks_failed"] == 0
    seconds = sorted(outcome.seconds for outcome in outcomes)
    print(f"\n{VISITORS} visitors, {sum(o.waited_in_line for o in outcomes)} waited in line; "
          f"flow seconds median {seconds[len(seconds) // 2]:.1f}, max {seconds[-1]:.1f}; "
          f"issuer calls per registration {summary['calls_per_registration']:.1f}")
