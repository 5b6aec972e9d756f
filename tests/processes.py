"""Several Python processes on one database file, as gunicorn workers (or instances) would be."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def shared_database(tmp_path: Path, **environment: str) -> dict[str, str]:
    """The environment of processes sharing one migrated SQLite file under ``tmp_path``."""
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        REGISTERFT_VAR_DIR=str(tmp_path),
        REGISTERFT_DB_PATH=str(tmp_path / "shared.sqlite3"),
        **environment,
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=120
    )
    return env


def run_at_once(code: str, env: dict[str, str], *, processes: int = 4) -> list[str]:
    """Start ``processes`` copies of ``code`` together; their standard outputs, once all ended.
    Each is stopped by its process group if it outlives the deadline."""
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True,
        )
        for _ in range(processes)
    ]
    try:
        outputs = [worker.communicate(timeout=120) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
    assert all(worker.returncode == 0 for worker in workers), [err[-2000:] for _out, err in outputs]
    return [out for out, _err in outputs]


def stop_process_group(process: subprocess.Popen | None) -> None:
    """SIGTERM to the process's own group (started with ``start_new_session``), SIGKILL if it does
    not stop in time; nothing when it has ended already."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


# The portal's own variables: a process started for a test gets none of the test run's.
PORTAL_PREFIXES = ("DJANGO_", "REGISTERFT_", "GUNICORN_", "ACAPY_", "AGENT_REST_", "PYTEST_", "SWIYU_")


def production_environ(workdir: Path, **variables: str) -> dict[str, str]:
    """The environment of the portal in production behind a TLS proxy on loopback (the proxy sets
    X-Forwarded-Proto and X-Forwarded-For), its var folder and static files under ``workdir``,
    with ``variables`` on top."""
    environ = {
        name: value for name, value in os.environ.items()
        if not name.startswith(PORTAL_PREFIXES) and name not in ("DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")
    }
    environ.update(
        DJANGO_SETTINGS_MODULE="registerft.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_STATIC_ROOT=str(workdir / "static"),
        DJANGO_SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
        REGISTERFT_CLIENT_IP_HEADER="X-Forwarded-For",
        REGISTERFT_VAR_DIR=str(workdir / "var"),
        **variables,
    )
    return environ
