"""The portal under gunicorn with production settings, for the benchmark's scenarios."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.processes import stop_process_group

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_cpu_seconds(*pids: int) -> float:
    """CPU time (user and system) used so far by ``pids`` and their direct children."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(stat.parent.name) in pids or int(fields[1]) in pids:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


class Portal:
    """The portal under gunicorn with production settings, in a temporary var folder."""

    def __init__(self, *, workdir: Path, issuer_env: dict[str, str]):
        self.workdir = workdir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.var_dir = workdir / "var"
        self.session_dir = self.var_dir / "sessions"
        self.process: subprocess.Popen | None = None
        self.events: subprocess.Popen | None = None  # manage.py acapy_events, while it follows the agent
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
            "DJANGO_STATIC_ROOT": str(workdir / "static"),
            "REGISTERFT_VAR_DIR": str(self.var_dir),
            # Every visitor of the benchmark comes from 127.0.0.1: the per-address limits (meant for a
            # venue's network) would stop it within a second. The per-session ones stay as they are.
            "REGISTERFT_RATE_INVITATIONS_PER_ADDRESS": "10000000/1m",
            "REGISTERFT_RATE_OFFERS_PER_ADDRESS": "10000000/1m",
            "REGISTERFT_LINE_PER_ADDRESS": "100000",
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "PYTHONDONTWRITEBYTECODE": "1",
            **issuer_env,
        }

    def prepare(self) -> None:
        self.session_dir.mkdir(parents=True)
        for command in (["collectstatic", "--noinput", "-v0"], ["migrate", "--noinput", "-v0"]):
            subprocess.run([PYTHON, "manage.py", *command], cwd=ROOT, env=self.env, check=True)

    def start(self) -> None:
        log_file = open(self.workdir / "gunicorn.log", "wb")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            # No control socket: its default path is shared by every gunicorn of this user.
            [PYTHON, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--no-control-socket", "bench.wsgi"],
            cwd=ROOT, env=self.env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn stopped at start; see {self.workdir / 'gunicorn.log'}")
            try:
                answer = requests.get(self.base_url + "/bench/minimal", headers={"X-Forwarded-Proto": "https"},
                                      timeout=2)
                if answer.status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise SystemExit("gunicorn did not answer within 30 s")

    def stop(self) -> None:
        self.stop_events()
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        except ProcessLookupError:
            pass

    def start_events(self) -> None:
        """Start ``manage.py acapy_events`` and wait until it reads the agent's websocket."""
        log_path = self.workdir / "events.log"
        offset = log_path.stat().st_size if log_path.exists() else 0
        with open(log_path, "ab") as log_file:
            self.events = subprocess.Popen([PYTHON, "manage.py", "acapy_events"], cwd=ROOT, env=self.env,
                                           stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.events.poll() is not None:
                raise SystemExit(f"manage.py acapy_events stopped at start; see {log_path}")
            with open(log_path, "rb") as handle:
                handle.seek(offset)
                if b"event stream open" in handle.read():
                    return
            time.sleep(0.1)
        raise SystemExit(f"manage.py acapy_events did not open the agent's websocket within 30 s; see {log_path}")

    def stop_events(self) -> None:
        stop_process_group(self.events)  # started in a session of its own
        self.events = None

    def events_cpu_seconds(self) -> float:
        """CPU time used so far by the running acapy_events (0 when none runs)."""
        return process_cpu_seconds(self.events.pid) if self.events is not None else 0.0

    def worker_rss_mb(self) -> list[float]:
        assert self.process is not None
        sizes = []
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                text = status.read_text()
            except OSError:
                continue
            if re.search(rf"^PPid:\s+{self.process.pid}$", text, re.M):
                found = re.search(r"^VmRSS:\s+(\d+) kB", text, re.M)
                if found:
                    sizes.append(int(found.group(1)) / 1024)
        return sorted(sizes)

    def worker_cpu_seconds(self) -> float:
        """CPU time (user and system) used so far by the master and its workers, and by the
        running acapy_events."""
        assert self.process is not None
        return process_cpu_seconds(self.process.pid) + self.events_cpu_seconds()

    def session_files(self) -> list[Path]:
        return [path for path in self.session_dir.iterdir() if path.name.startswith("sessionid")]

    def keep_sessions(self, keep: set[str]) -> None:
        """Remove every session file but those of ``keep`` (the visitors replayed by wrk)."""
        for path in self.session_files():
            if path.name.removeprefix("sessionid") not in keep:
                path.unlink(missing_ok=True)

    def crowded_sessions(self, folder: Path, *, keep: set[str], total: int) -> None:
        """A second session folder: the sessions of ``keep`` and copies of one of them, ``total``
        files in all, to be swapped in with ``swap_sessions``."""
        folder.mkdir()
        for name in keep:
            shutil.copy2(self.session_dir / ("sessionid" + name), folder / ("sessionid" + name))
        content = (self.session_dir / ("sessionid" + min(keep))).read_bytes()
        for _ in range(total - len(keep)):
            (folder / ("sessionid" + secrets.token_hex(16))).write_bytes(content)

    def swap_sessions(self, folder: Path) -> None:
        """The portal's session folder and ``folder`` trade places (renames: a moment)."""
        aside = self.session_dir.with_name(self.session_dir.name + ".aside")
        self.session_dir.rename(aside)
        folder.rename(self.session_dir)
        aside.rename(folder)


