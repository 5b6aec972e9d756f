"""nginx in front of a test portal, configured from the deployment guide's own text.

The test's configuration is not a copy: it is the ``nginx`` block of docs/deployment.md, section 5,
with only what a loopback test cannot keep changed (the upstream's addresses, the listening address,
the certificate's files) and the two servers it does not need (the redirect on port 80, the webhook
listener on a private address) left out. A change to the guide's proxy settings is tested as written.

nginx comes from Debian's package; as root on Debian it is installed with apt-get when missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.multi_instance.services import BASE_DIR, Process, ServiceSetupError, can_install

GUIDE = BASE_DIR / "docs" / "deployment.md"
GUIDE_SECTION = "## 5. nginx as reverse proxy and load balancer"
PACKAGES = ("nginx", "openssl")
INSTALL_COMMAND = "sudo apt-get install -y --no-install-recommends " + " ".join(PACKAGES)


# --- Finding and installing nginx ---------------------------------------------------------------


def _find(name: str) -> Path | None:
    # /usr/sbin is not on every user's PATH.
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    return Path(found) if found else None


def ensure_nginx() -> tuple[Path, Path]:
    """nginx and openssl, installed with apt-get first if they are missing and this is root on Debian."""
    nginx, openssl = _find("nginx"), _find("openssl")
    if nginx and openssl:
        return nginx, openssl
    if not can_install():
        raise ServiceSetupError(f"nginx and openssl are needed; install them with: {INSTALL_COMMAND}")
    print(f"slow-client tests: installing {' '.join(PACKAGES)} with apt-get", file=sys.stderr)
    environ = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    wait_for_lock = ["-o", "DPkg::Lock::Timeout=120"]  # another test run may be installing too
    for command, limit in (
        (["apt-get", *wait_for_lock, "update", "-q"], 300),
        (["apt-get", *wait_for_lock, "install", "-y", "-q", "--no-install-recommends", *PACKAGES], 600),
    ):
        result = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=limit)
        if result.returncode != 0:
            raise ServiceSetupError(f"{' '.join(command)} failed: {result.stderr[-1500:]}")
    nginx, openssl = _find("nginx"), _find("openssl")
    if not (nginx and openssl):
        raise ServiceSetupError(f"apt-get ran but nginx or openssl is still missing; try: {INSTALL_COMMAND}")
    return nginx, openssl


# --- The configuration, from the guide ----------------------------------------------------------


def guide_config(guide: Path = GUIDE) -> str:
    """The first ``nginx`` block of the guide's nginx section."""
    text = guide.read_text()
    section = text.split(GUIDE_SECTION, 1)
    if len(section) != 2:
        raise ServiceSetupError(f"{guide.name} has no section {GUIDE_SECTION!r}")
    found = re.search(r"^```nginx\n(.*?)^```", section[1], flags=re.MULTILINE | re.DOTALL)
    if found is None:
        raise ServiceSetupError(f"{guide.name}, {GUIDE_SECTION!r}: no nginx block")
    return found.group(1)


def top_level_blocks(config: str) -> list[str]:
    """The blocks (``upstream ... { }``, ``server { }``) of ``config``, comments dropped."""
    lines = [line.split("#", 1)[0].rstrip() for line in config.splitlines()]
    blocks, current, depth = [], [], 0
    for line in lines:
        if not line.strip():
            continue
        current.append(line)
        depth += line.count("{") - line.count("}")
        if depth == 0:
            blocks.append("\n".join(current))
            current = []
    if depth != 0 or current:
        raise ServiceSetupError("the guide's nginx block has unbalanced braces")
    return blocks


def loopback_config(config: str, *, port: int, upstream_port: int, cert: Path, key: Path) -> str:
    """The guide's upstream and TLS server, pointed at loopback ports and a test certificate."""
    blocks = top_level_blocks(config)
    upstreams = [block for block in blocks if block.lstrip().startswith("upstream ")]
    tls_servers = [block for block in blocks if re.search(r"^\s*listen\s+443\s+ssl", block, flags=re.MULTILINE)]
    if len(upstreams) != 1 or len(tls_servers) != 1:
        raise ServiceSetupError("the guide's nginx block no longer has one upstream and one TLS server")
    # Each of the guide's instances becomes the one test portal, once.
    upstream = re.sub(r"^(\s*)server\s+\S+", rf"\1server 127.0.0.1:{upstream_port}", upstreams[0],
                      count=1, flags=re.MULTILINE)
    upstream = re.sub(r"^\s*server\s+(?!127\.0\.0\.1:).*\n", "", upstream, flags=re.MULTILINE)
    server = re.sub(r"^\s*listen\s+\[::\].*\n", "", tls_servers[0], flags=re.MULTILINE)
    server = re.sub(r"^(\s*)listen\s+443\b", rf"\1listen 127.0.0.1:{port}", server, flags=re.MULTILINE)
    server = re.sub(r"^(\s*ssl_certificate)\s+\S+;", rf"\1 {cert};", server, flags=re.MULTILINE)
    server = re.sub(r"^(\s*ssl_certificate_key)\s+\S+;", rf"\1 {key};", server, flags=re.MULTILINE)
    return f"{upstream}\n\n{server}\n"


def nginx_conf(site: str, folder: Path) -> str:
    """A whole nginx.conf around ``site``: one worker in the foreground, every file in ``folder``."""
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp = "\n".join(f"    {kind}_temp_path {folder / (kind + '_temp')};" for kind in kinds)
    user = "user root;\n" if os.geteuid() == 0 else ""  # mkdtemp's folder (0700) admits only root
    return (
        f"{user}daemon off;\nworker_processes 1;\npid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'} info;\n"
        "events { worker_connections 512; }\n"
        f"http {{\n    access_log {folder / 'access.log'};\n{temp}\n{site}}}\n"
    )


def start_nginx(nginx: Path, folder: Path, site: str) -> Process:
    """nginx with its own prefix and configuration in ``folder``; stopped by the caller."""
    conf = folder / "nginx.conf"
    conf.write_text(nginx_conf(site, folder))
    test = subprocess.run([str(nginx), "-t", "-p", str(folder), "-c", str(conf), "-e", str(folder / "error.log")],
                          capture_output=True, text=True, timeout=30)
    if test.returncode != 0:
        raise ServiceSetupError(f"nginx refuses the configuration from the guide:\n{test.stderr[-2000:]}\n{site}")
    command = [str(nginx), "-p", str(folder), "-c", str(conf), "-e", str(folder / "error.log")]
    return Process("nginx", command, folder / "nginx.out").start()
