"""Real PostgreSQL, Redis and portal processes on loopback for the two-instance tests.

Everything runs on free ports in temporary folders and is stopped by process group. PostgreSQL and
Redis come from Debian's packages; as root on Debian they are installed with apt-get when missing.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import requests

BASE_DIR = Path(__file__).resolve().parents[2]
PACKAGES = ("postgresql", "redis-server", "openssl")
INSTALL_COMMAND = "sudo apt-get install -y --no-install-recommends " + " ".join(PACKAGES)
START_TIMEOUT = 30.0


class ServiceSetupError(RuntimeError):
    """A piece the tests need is missing or does not start; the message says what to do."""


# --- Finding and installing the programs ------------------------------------------------------


@dataclass(frozen=True)
class Programs:
    initdb: Path
    postgres: Path
    redis_server: Path
    openssl: Path


def _postgres_bin(name: str) -> Path | None:
    # Debian keeps the server programs out of PATH, one folder per major version: take the newest.
    candidates = sorted(
        (Path(path) for path in glob.glob(f"/usr/lib/postgresql/*/bin/{name}") if Path(path).parts[4].isdigit()),
        key=lambda path: int(path.parts[4]),
    )
    if candidates:
        return candidates[-1]
    found = shutil.which(name)
    return Path(found) if found else None


def find_programs() -> Programs | None:
    initdb, postgres = _postgres_bin("initdb"), _postgres_bin("postgres")
    redis_server, openssl = shutil.which("redis-server"), shutil.which("openssl")
    if not (initdb and postgres and redis_server and openssl):
        return None
    return Programs(initdb, postgres, Path(redis_server), Path(openssl))


def can_install() -> bool:
    return os.geteuid() == 0 and Path("/etc/debian_version").exists() and shutil.which("apt-get") is not None


def ensure_programs() -> Programs:
    """The programs, installed with apt-get first if they are missing and this is root on Debian."""
    programs = find_programs()
    if programs is not None:
        return programs
    if not can_install():
        raise ServiceSetupError(f"PostgreSQL, Redis and openssl are needed; install them with: {INSTALL_COMMAND}")
    print(f"multi-instance tests: installing {' '.join(PACKAGES)} with apt-get", file=sys.stderr)
    environ = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Another test run in the same checkout may hold the package lock: wait for it.
    wait_for_lock = ["-o", "DPkg::Lock::Timeout=120"]
    for command, limit in (
        (["apt-get", *wait_for_lock, "update", "-q"], 300),
        (["apt-get", *wait_for_lock, "install", "-y", "-q", "--no-install-recommends", *PACKAGES], 600),
    ):
        result = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=limit)
        if result.returncode != 0:
            raise ServiceSetupError(f"{' '.join(command)} failed: {result.stderr[-1500:]}")
    programs = find_programs()
    if programs is None:
        raise ServiceSetupError(f"apt-get ran but a program is still missing; try: {INSTALL_COMMAND}")
    return programs


# --- Processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Process:
    """A process started in its own process group, with its output in a log file."""

    name: str
    command: list[str]
    log_path: Path
    environ: dict[str, str] | None = None
    cwd: Path | None = None
    stop_signal: int = signal.SIGTERM
    popen: subprocess.Popen | None = field(default=None, init=False)

    def start(self) -> Process:
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=self.environ, cwd=self.cwd, start_new_session=True,
            )
        return self

    def stop(self) -> None:
        """Stop the whole group: gently, then after ten seconds for good."""
        if self.popen is None or self.popen.poll() is not None:
            return
        pgid = self.popen.pid  # start_new_session: the group's id is the leader's pid
        try:
            os.killpg(pgid, self.stop_signal)
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.popen.wait(timeout=10)
        except ProcessLookupError:  # it ended between poll() and killpg()
            self.popen.wait(timeout=10)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_until(self, ready: Callable[[], bool], *, what: str, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.popen is not None
            if self.popen.poll() is not None:
                raise ServiceSetupError(f"{self.name} exited with {self.popen.returncode}:\n{self.log_tail()}")
            try:
                if ready():
                    return
            except Exception:  # noqa: BLE001  (not up yet: refused connections, 503s, ...)
                pass
            time.sleep(0.2)
        raise ServiceSetupError(f"{self.name} was not {what} after {timeout:.0f} s:\n{self.log_tail()}")


def as_postgres_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the `postgres` user of the package."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


# --- PostgreSQL ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    password: str
    database: str

    @property
    def url(self) -> str:
        # The password has characters that must be percent-encoded, as an operator's might.
        return f"postgres://{self.user}:{quote(self.password, safe='')}@{self.host}:{self.port}/{self.database}"

    def connect(self, database: str | None = None):
        import psycopg

        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, password=self.password,
            dbname=database or self.database, connect_timeout=3,
        )


def start_postgres(programs: Programs, folder: Path, password: str, stoppers: list[Callable[[], None]]) -> Postgres:
    """initdb a fresh cluster in ``folder`` (owned by the postgres user when root), start it on a
    free loopback port and create the portal's database."""
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    password_file = folder / "password"
    password_file.write_text(password)
    if os.geteuid() == 0:
        shutil.chown(password_file, "postgres", "postgres")
    password_file.chmod(0o600)
    data = folder / "data"
    initdb = as_postgres_user([
        str(programs.initdb), "-D", str(data), "-U", "registerft", f"--pwfile={password_file}",
        "-A", "scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions",
    ])
    result = subprocess.run(initdb, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise ServiceSetupError(f"initdb failed: {result.stdout[-1000:]}{result.stderr[-1500:]}")
    port = free_port()
    server = Process(
        "PostgreSQL",
        as_postgres_user([
            str(programs.postgres), "-D", str(data), "-h", "127.0.0.1", "-p", str(port), "-k", str(folder),
            # A throw-away cluster: durability costs time and buys nothing here.
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            "-c", "max_connections=60",
        ]),
        folder / "postgres.log",
        # SIGINT is PostgreSQL's fast shutdown: it does not wait for clients to leave.
        stop_signal=signal.SIGINT,
    )
    stoppers.append(server.stop)
    server.start()
    postgres = Postgres("127.0.0.1", port, "registerft", password, "registerft")

    def answers() -> bool:
        with postgres.connect("postgres"):
            return True

    server.wait_until(answers, what="accepting connections")
    with postgres.connect("postgres") as connection:
        connection.autocommit = True
        connection.execute("CREATE DATABASE registerft")
    return postgres


# --- Redis --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Redis:
    port: int
    password: str

    @property
    def url(self) -> str:
        return f"redis://:{quote(self.password, safe='')}@127.0.0.1:{self.port}/0"

    def client(self):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password, socket_timeout=3)


def start_redis(programs: Programs, folder: Path, password: str, stoppers: list[Callable[[], None]]) -> Redis:
    port = free_port()
    server = Process(
        "Redis",
        [
            str(programs.redis_server), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
            # A cache for the tests only: nothing is written to disk.
            "--save", "", "--appendonly", "no", "--requirepass", password, "--loglevel", "warning",
        ],
        folder / "redis.log",
    )
    stoppers.append(server.stop)
    server.start()
    redis = Redis(port, password)
    server.wait_until(lambda: bool(redis.client().ping()), what="answering PING")
    return redis


# --- TLS and the portal -------------------------------------------------------------------------


def make_certificate(programs: Programs, folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, valid for a day: gunicorn serves TLS with it."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = [
        str(programs.openssl), "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        "-keyout", str(key), "-out", str(cert),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise ServiceSetupError(f"openssl could not make a certificate: {result.stderr[-1000:]}")
    return cert, key


def manage(environ: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    command = [sys.executable, "manage.py", *args]
    result = subprocess.run(command, env=environ, cwd=BASE_DIR, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise ServiceSetupError(f"manage.py {' '.join(args)} failed:\n{result.stdout[-1500:]}{result.stderr[-3000:]}")
    return result


@dataclass(frozen=True)
class Instance:
    name: str
    url: str


def control_socket_args(folder: Path) -> list[str]:
    """Newer gunicorns open a control socket, by default one per user (~/.gunicorn/gunicorn.ctl):
    two masters on one machine need one each."""
    from gunicorn.config import Config

    return ["--control-socket", str(folder / "gunicorn.ctl")] if "control_socket" in Config().settings else []


def start_portal(
    name: str, environ: dict[str, str], folder: Path, stoppers: list[Callable[[], None]]
) -> tuple[Instance, Process]:
    """One portal instance: gunicorn with the project's gunicorn.conf.py, serving TLS."""
    port = free_port()
    environ = {**environ, "GUNICORN_BIND": f"127.0.0.1:{port}", "REGISTERFT_VAR_DIR": str(folder)}
    command = [
        sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", *control_socket_args(folder), "registerft.wsgi",
    ]
    process = Process(f"portal {name}", command, folder / "gunicorn.log", environ=environ, cwd=BASE_DIR)
    stoppers.append(process.stop)
    process.start()
    return Instance(name, f"https://127.0.0.1:{port}"), process


def wait_until_ready(instance: Instance, process: Process, cert: Path) -> None:
    def ready() -> bool:
        return requests.get(f"{instance.url}/readyz", verify=str(cert), timeout=3).status_code == 200

    process.wait_until(ready, what="ready (/readyz)")
