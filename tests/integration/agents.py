"""Real ACA-Py agents for the integration tests: their virtualenv and their processes.

acapy-agent 1.7.0 needs Python 3.13 (with an older Python, pip quietly resolves an older agent), so
it lives in its own virtualenv under var/, created once and reused between runs.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.processes import stop_process_group

ACAPY_VERSION = "1.7.0"
ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("ACAPY_VENV", ROOT / "var" / "acapy-venv"))
READY_DEADLINE = 60.0
INSTALL_TIMEOUT = 600


class AgentSetupError(RuntimeError):
    """Python 3.13 or the agent could not be set up; the message says what to do."""


def _works(python: str) -> bool:
    try:
        result = subprocess.run([python, "--version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0 and result.stdout.strip().startswith("Python 3.13")


def find_python313() -> str:
    """ACAPY_PYTHON, else python3.13 if it runs, else pyenv's 3.13.0."""
    configured = os.environ.get("ACAPY_PYTHON")
    if configured:
        if not _works(configured):
            raise AgentSetupError(f"ACAPY_PYTHON={configured} is not a working Python 3.13.")
        return configured
    on_path = shutil.which("python3.13")
    # On a pyenv machine this name may be a shim that fails: it only counts if it runs.
    if on_path and _works(on_path):
        return on_path
    pyenv = shutil.which("pyenv")
    if pyenv:
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True, timeout=20).stdout.strip()
        candidate = Path(root) / "versions" / "3.13.0" / "bin" / "python3"
        if root and _works(str(candidate)):
            return str(candidate)
    raise AgentSetupError(
        "The ACA-Py integration tests need Python 3.13. Install it (for example `pyenv install 3.13.0`, "
        "or `apt-get install python3.13 python3.13-venv` where Debian has it) or point ACAPY_PYTHON at it."
    )


def _installed_version() -> str:
    python = VENV / "bin" / "python"
    if not python.exists():
        return ""
    result = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('acapy-agent'))"],
        capture_output=True, text=True, timeout=60,
    )
    return result.stdout.strip() if result.returncode == 0 else ""


def ensure_acapy() -> Path:
    """The aca-py executable of the tests' own virtualenv, installed on first use."""
    if _installed_version() == ACAPY_VERSION:
        return VENV / "bin" / "aca-py"
    python = find_python313()
    try:
        subprocess.run([python, "-m", "venv", "--clear", str(VENV)], check=True, capture_output=True,
                       timeout=120)
        subprocess.run(
            [str(VENV / "bin" / "pip"), "install", "--quiet", f"acapy-agent=={ACAPY_VERSION}"],
            check=True, capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
        )
    except subprocess.CalledProcessError as err:
        raise AgentSetupError(
            f"Installing acapy-agent=={ACAPY_VERSION} into {VENV} failed: {(err.stderr or '')[-500:]}"
        ) from err
    except subprocess.TimeoutExpired as err:
        raise AgentSetupError(f"Installing acapy-agent=={ACAPY_VERSION} into {VENV} took too long.") from err
    if _installed_version() != ACAPY_VERSION:
        raise AgentSetupError(f"{VENV} does not hold acapy-agent {ACAPY_VERSION} after installing it.")
    return VENV / "bin" / "aca-py"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Agent:
    """One ACA-Py process on loopback, with its own wallet in ``workdir``."""

    executable: Path
    label: str
    workdir: Path
    extra_args: list[str] = field(default_factory=list)
    webhook_url: str = ""
    # Hex, so that a key never starts with "-" (which the agent would read as an option).
    api_key: str = field(default_factory=lambda: secrets.token_hex(16))
    wallet_key: str = field(default_factory=lambda: secrets.token_hex(16))
    inbound_port: int = 0
    admin_port: int = 0
    process: subprocess.Popen | None = None

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def command(self) -> list[str]:
        command = [
            str(self.executable), "start", "--label", self.label,
            "--inbound-transport", "http", "127.0.0.1", str(self.inbound_port),
            "--outbound-transport", "http", "--endpoint", f"http://127.0.0.1:{self.inbound_port}",
            "--admin", "127.0.0.1", str(self.admin_port), f"--admin-api-key={self.api_key}",
            "--no-ledger", "--wallet-type", "askar", "--wallet-name", self.label,
            f"--wallet-key={self.wallet_key}", "--auto-provision", "--log-level", "warning",
            *self.extra_args,
        ]
        if self.webhook_url:
            command += ["--webhook-url", self.webhook_url]
        return command

    def start(self, *, attempts: int = 3) -> None:
        """Start on free ports (new ones if a port was taken meanwhile), and wait until ready."""
        keep_ports = bool(self.inbound_port)
        for attempt in range(attempts):
            if not keep_ports or attempt:
                self.inbound_port, self.admin_port = free_port(), free_port()
            log = open(self.workdir / f"{self.label}.log", "ab")
            # The agent reads ACAPY_* variables as options: only the wallet's home is passed on.
            env = {key: value for key, value in os.environ.items() if not key.startswith("ACAPY_")}
            env["ACAPY_HOME"] = str(self.workdir / self.label)
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
            log.close()
            if self._wait_ready():
                return
            self.stop()
        raise AgentSetupError(f"The {self.label} agent did not become ready; see {self.workdir}/{self.label}.log")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + READY_DEADLINE
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False  # it exited, for example because a port was taken
            try:
                response = requests.get(f"{self.admin_url}/status/ready", headers=self.headers, timeout=2)
                if response.ok and response.json().get("ready"):
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.2)
        return False

    def stop(self) -> None:
        """SIGTERM to the agent's process group, SIGKILL if it does not stop in time."""
        process, self.process = self.process, None
        stop_process_group(process)

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key}

    def get(self, path: str, **params: str) -> dict:
        response = requests.get(self.admin_url + path, params=params, headers=self.headers, timeout=15)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict | None = None, **params: str) -> dict:
        response = requests.post(self.admin_url + path, json=body or {}, params=params, headers=self.headers,
                                 timeout=30)
        response.raise_for_status()
        return response.json()
