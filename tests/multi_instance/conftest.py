"""Two portal instances on one PostgreSQL and one Redis, all real processes on loopback.

With CI=true a missing piece fails the run; elsewhere these tests are skipped with the command
that installs it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes import FakeAgent
from tests.multi_instance import services
from tests.multi_instance.services import Instance, Postgres, Redis, ServiceSetupError

# A password with characters that must be percent-encoded in the URLs, as an operator's might.
PASSWORD_EXTRAS = "@/:%"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def give_up(reason: str) -> None:
    if in_ci():
        pytest.fail(f"CI needs the two-instance set-up: {reason}", pytrace=False)
    print(f"\nmulti-instance tests skipped: {reason}")
    pytest.skip(reason)


@dataclass(frozen=True)
class Cluster:
    postgres: Postgres
    redis: Redis
    instances: tuple[Instance, Instance]
    cert: Path
    environ: dict[str, str]


@pytest.fixture(scope="session")
def _workdir() -> Iterator[Path]:
    # Not pytest's tmp_path: its parents are closed to other users, and PostgreSQL runs as postgres.
    folder = Path(tempfile.mkdtemp(prefix="registerft-multi-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def _stoppers(_workdir) -> Iterator[list[Callable[[], None]]]:
    """Each started process adds its stop here; they run last started, first stopped, even when
    a start fails halfway, and before their folder is removed."""
    stoppers: list[Callable[[], None]] = []
    yield stoppers
    errors = []
    for stop in reversed(stoppers):
        try:
            stop()
        except (OSError, subprocess.SubprocessError) as err:  # stop the others all the same
            errors.append(err)
    if errors:
        raise errors[0]


def instance_environ(postgres: Postgres, redis: Redis, cert: Path, key: Path, static_root: Path) -> dict[str, str]:
    """The environment an operator would write for production (see docs/deployment.md), on loopback."""
    environ = {
        name: value for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "REGISTERFT_", "GUNICORN_", "ACAPY_", "AGENT_REST_", "PYTEST_"))
        and name not in ("DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")
    }
    environ.update(
        DJANGO_SETTINGS_MODULE="registerft.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_STATIC_ROOT=str(static_root),
        DATABASE_URL=postgres.url,
        REDIS_URL=redis.url,
        REGISTERFT_ISSUERS="demo",
        # Low enough for the rate-limit test to reach it in three visits.
        REGISTERFT_RATE_INVITATIONS_PER_SESSION="2/10m",
        GUNICORN_CERTFILE=str(cert),
        GUNICORN_KEYFILE=str(key),
        GUNICORN_WORKERS="1",
        GUNICORN_THREADS="4",
    )
    return environ


@pytest.fixture(scope="session")
def cluster(_stoppers, _workdir) -> Cluster:
    try:
        programs = services.ensure_programs()
    except ServiceSetupError as err:
        give_up(str(err))
    try:
        return _start_cluster(programs, _workdir, _stoppers)
    except ServiceSetupError as err:
        pytest.fail(str(err), pytrace=False)


def _start_cluster(programs: services.Programs, workdir: Path, stoppers: list[Callable[[], None]]) -> Cluster:
    for name in ("postgres", "redis", "static", "a", "b"):
        (workdir / name).mkdir()
    postgres = services.start_postgres(
        programs, workdir / "postgres", secrets.token_urlsafe(12) + PASSWORD_EXTRAS, stoppers
    )
    redis = services.start_redis(programs, workdir / "redis", secrets.token_urlsafe(12) + PASSWORD_EXTRAS, stoppers)
    cert, key = services.make_certificate(programs, workdir)
    environ = instance_environ(postgres, redis, cert, key, workdir / "static")
    # What an operator runs once per release, before the instances start.
    setup_environ = {**environ, "REGISTERFT_VAR_DIR": str(workdir / "a")}
    services.manage(setup_environ, "migrate", "--noinput")
    services.manage(setup_environ, "collectstatic", "--noinput")
    # Each instance has its own var folder: nothing can be shared through the file system.
    started = [
        services.start_portal(name, environ, workdir / name.lower(), stoppers) for name in ("A", "B")
    ]
    for instance, process in started:
        services.wait_until_ready(instance, process, cert)
    return Cluster(postgres, redis, (started[0][0], started[1][0]), cert, environ)


@dataclass(frozen=True)
class AgentPair:
    """Two more instances on the same database and Redis, with the ACA-Py backend pointed at a
    fake agent (no webhook URL: the test sends the webhooks itself, to the instance it chooses)."""

    agent: FakeAgent
    instances: tuple[Instance, Instance]
    webhook_secret: str


@pytest.fixture(scope="session")
def agent_pair(cluster, _stoppers, _workdir) -> AgentPair:
    agent = FakeAgent(api_key=secrets.token_urlsafe(16))
    _stoppers.append(agent.stop)
    agent.start()
    webhook_secret = secrets.token_urlsafe(16)
    environ = {
        **cluster.environ,
        "REGISTERFT_ISSUERS": "acapy",
        "ACAPY_ADMIN_URL": agent.base_url,
        "ACAPY_ADMIN_API_KEY": agent.api_key,
        "ACAPY_WEBHOOK_SECRET": webhook_secret,
        "ACAPY_ISSUER_DID": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        # Only webhooks move the flow here: the portal never asks the agent itself.
        "REGISTERFT_WEBHOOK_FALLBACK_INTERVAL": "600",
        "REGISTERFT_ISSUER_TIMEOUT": "5",
    }
    started = []
    for name in ("acapy-a", "acapy-b"):
        (_workdir / name).mkdir()
        started.append(services.start_portal(name, environ, _workdir / name, _stoppers))
    try:
        for instance, process in started:
            services.wait_until_ready(instance, process, cluster.cert)
    except ServiceSetupError as err:
        pytest.fail(str(err), pytrace=False)
    return AgentPair(agent, (started[0][0], started[1][0]), webhook_secret)
