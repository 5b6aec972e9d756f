"""Real OpenID4VCI components for the tests: Credo 0.6.3 on Node, an issuer behind a stand-in for
swiyu's management API (tests/oid4vc/node/issuer.mjs) and a holder (holder.mjs).

The Node project (package.json, package-lock.json and the scripts) lives in tests/oid4vc/node/; it is
installed once under var/oid4vc-node/ and installed again only when the lock file changes. Its
install needs steps of its own: askar-nodejs's install script downloads a binary from the internet,
so ``npm ci --ignore-scripts`` skips it; the FFI bindings are compiled with ``npm rebuild`` (gcc,
make, Node's headers from /usr); and the native askar library comes from PyPI's aries-askar wheel.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.processes import stop_process_group

ROOT = Path(__file__).resolve().parents[2]
SOURCE = Path(__file__).resolve().parent / "node"
INSTALL = Path(os.environ.get("OID4VC_NODE_DIR", ROOT / "var" / "oid4vc-node"))
ASKAR_VERSION = "0.4.6"
ASKAR_DIR = ROOT / "var" / f"askar-{ASKAR_VERSION}"
NODE_MAJOR = 20
INSTALL_TIMEOUT = 600
READY_DEADLINE = 30.0
PROJECT_FILES = ("package.json", "package-lock.json")


class ComponentsSetupError(RuntimeError):
    """Node, npm or the Credo packages could not be set up; the message says what to do."""


def _run(command: list[str], *, what: str, cwd: Path | None = None, env: dict | None = None) -> None:
    try:
        subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    except subprocess.CalledProcessError as err:
        raise ComponentsSetupError(f"{what} failed: {(err.stderr or err.stdout or '')[-800:]}") from err
    except subprocess.TimeoutExpired as err:
        raise ComponentsSetupError(f"{what} took longer than {INSTALL_TIMEOUT} s") from err
    except OSError as err:
        raise ComponentsSetupError(f"{what} could not start: {err}") from err


def node_executable() -> str:
    """Node 20 or later, else an error naming the install command."""
    node = shutil.which("node")
    npm = shutil.which("npm")
    if not node or not npm:
        raise ComponentsSetupError("The OpenID4VCI tests need Node 20 and npm: apt-get install -y nodejs npm")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=20).stdout.strip()
    match = re.match(r"v(\d+)\.", version)
    if not match or int(match.group(1)) < NODE_MAJOR:
        raise ComponentsSetupError(f"The OpenID4VCI tests need Node {NODE_MAJOR} or later, found {version or 'none'}")
    return node


def _stamp() -> str:
    digest = hashlib.sha256()
    for name in PROJECT_FILES:
        digest.update((SOURCE / name).read_bytes())
    return digest.hexdigest()


def _install_packages() -> None:
    INSTALL.mkdir(parents=True, exist_ok=True)
    stamp_file = INSTALL / ".installed"
    if stamp_file.exists() and stamp_file.read_text() == _stamp() and (INSTALL / "node_modules").is_dir():
        return
    for name in PROJECT_FILES:
        shutil.copy2(SOURCE / name, INSTALL / name)
    env = {**os.environ, "npm_config_update_notifier": "false", "npm_config_fund": "false", "npm_config_audit": "false"}
    _run(["npm", "ci", "--ignore-scripts"], what="npm ci --ignore-scripts", cwd=INSTALL, env=env)
    # node-gyp would download Node's headers; Debian's nodejs ships them under /usr/include/node.
    if Path("/usr/include/node/node.h").exists():
        env["npm_config_nodedir"] = "/usr"
    _run(["npm", "rebuild", "@2060.io/ffi-napi", "@2060.io/ref-napi"], what="npm rebuild of the FFI bindings",
         cwd=INSTALL, env=env)
    stamp_file.write_text(_stamp())


def _install_askar() -> Path:
    library = ASKAR_DIR / "libaries_askar.so"
    if library.exists():
        return ASKAR_DIR
    with tempfile.TemporaryDirectory() as download:
        _run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
              f"aries-askar=={ASKAR_VERSION}", "-d", download], what=f"pip download aries-askar=={ASKAR_VERSION}")
        [wheel] = Path(download).glob("aries_askar-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read("aries_askar/libaries_askar.so")
    ASKAR_DIR.mkdir(parents=True, exist_ok=True)
    partial = library.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(library)
    return ASKAR_DIR


def limit_with_install(seconds: float) -> float:
    """A test's own limit, with the install's time on top while the packages are not installed yet
    (the first test that needs them installs them)."""
    stamp_file = INSTALL / ".installed"
    installed = stamp_file.exists() and stamp_file.read_text() == _stamp() and (ASKAR_DIR / "libaries_askar.so").exists()
    return seconds if installed else seconds + 3 * INSTALL_TIMEOUT


@dataclass(frozen=True)
class Components:
    node: str
    directory: Path
    askar_dir: Path


def ensure_components() -> Components:
    """Node, the Credo packages and the askar library, installed on first use; the scripts are
    copied from tests/oid4vc/node/ on every run, so that an edit takes effect at once."""
    node = node_executable()
    _install_packages()
    askar_dir = _install_askar()
    for script in SOURCE.glob("*.mjs"):
        shutil.copy2(script, INSTALL / script.name)
    return Components(node=node, directory=INSTALL, askar_dir=askar_dir)


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class NodeProcess:
    """One of the Node scripts on a loopback port, its output in ``log_dir``; stopped by its pid."""

    components: Components
    script: str
    log_dir: Path
    health_path: str
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.log_dir / f"{Path(self.script).stem}.log"

    def start(self, *, attempts: int = 3) -> None:
        for _ in range(attempts):
            self.port = free_port()
            env = {**os.environ, **self.env, "PORT": str(self.port), "LIB_ASKAR_PATH": str(self.components.askar_dir)}
            with open(self.log, "ab") as log:
                self.process = subprocess.Popen(
                    [self.components.node, self.script], cwd=self.components.directory, env=env,
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                )
            if self._wait_ready():
                return
            self.stop()
        raise ComponentsSetupError(f"{self.script} did not become ready; see {self.log}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + READY_DEADLINE
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                if requests.get(self.url + self.health_path, timeout=2).ok:
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        """SIGTERM to the process's own group (by its pid), SIGKILL if it does not stop in time."""
        process, self.process = self.process, None
        stop_process_group(process)


class Holder:
    """The holder (a wallet app) as the tests drive it."""

    def __init__(self, process: NodeProcess):
        self.process = process

    def redeem(self, offer: str, *, tx_code: str = "") -> requests.Response:
        return requests.post(self.process.url + "/redeem", json={"offer": offer, "tx_code": tx_code}, timeout=60)

    def credentials(self) -> list[str]:
        response = requests.get(self.process.url + "/credentials", timeout=20)
        response.raise_for_status()
        return response.json()["credentials"]
