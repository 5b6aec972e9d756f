"""The browser suite: Playwright for Python driving Debian's Chromium against a live server.

Playwright's own browser download cannot work on the project's machines, so the suite launches the
Chromium that Debian packages. A session fixture installs it with apt-get when the tests run as root
on Debian; anywhere else a missing browser fails the run under CI and skips it, with the command to
run, on a developer's machine.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test's thread; Django would otherwise refuse ORM
# calls from it, believing it is in async code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
INSTALL_COMMAND = "apt-get update && apt-get install -y chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root in a container
    "--disable-gpu",
    # No internet here: keep Chromium from reaching for Google's services.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
ACTION_TIMEOUT_MS = 15_000


@dataclass(frozen=True)
class Device:
    name: str
    width: int
    height: int
    mobile: bool
    user_agent: str | None = None


PHONE = Device(
    name="phone",
    width=390,
    height=844,
    mobile=True,
    user_agent=(
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/156.0.0.0 Mobile Safari/537.36"
    ),
)
DESKTOP = Device(name="desktop", width=1280, height=800, mobile=False)


APT_TIMEOUT_S = 900
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items) -> None:
    """Installing Chromium takes minutes on a fresh machine: the first browser test, whose set-up
    installs it, gets that time on top of its own limit."""
    if Path(CHROMIUM).exists():
        return
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.timeout(2 * APT_TIMEOUT_S + 120), append=False)
            return


def _missing(reason: str) -> None:
    message = f"{reason}. Install it with: {INSTALL_COMMAND}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    print(f"\nbrowser tests skipped: {message}")
    pytest.skip(message)


def _can_install() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0 and Path("/etc/debian_version").exists()


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    return ensure_chromium()


def ensure_chromium() -> str:
    """The path of Debian's Chromium, installed first when that is possible here."""
    if not Path(CHROMIUM).exists() and _can_install():
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
            # apt waits for another apt holding the lock (up to 5 minutes) rather than failing.
            result = subprocess.run(
                [*command[:1], "-o", "DPkg::Lock::Timeout=300", *command[1:]],
                env=env, capture_output=True, text=True, timeout=APT_TIMEOUT_S, check=False,
            )
            if result.returncode != 0:
                _missing(f"`{' '.join(command)}` failed: {result.stderr.strip()[-500:]}")
    if not Path(CHROMIUM).exists():
        _missing(f"Chromium is not installed at {CHROMIUM}")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium_executable: str) -> Iterator:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        message = "Playwright for Python is missing. Install it with: pip install -r requirements-dev.txt"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with sync_playwright() as playwright:
        # Playwright stops the browser process (and its children) when this block closes, also
        # when a test failed.
        browser = playwright.chromium.launch(
            executable_path=chromium_executable, args=CHROMIUM_ARGS, headless=True, timeout=60_000
        )
        try:
            yield browser
        finally:
            browser.close()


def new_context(browser, device: Device, **options):
    kwargs = {
        "viewport": {"width": device.width, "height": device.height},
        "is_mobile": device.mobile,
        "has_touch": device.mobile,
        "locale": "en-GB",
        **options,
    }
    if device.user_agent:
        kwargs["user_agent"] = device.user_agent
    context = browser.new_context(**kwargs)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    return context


@pytest.fixture(params=[PHONE, DESKTOP], ids=lambda device: device.name)
def device(request) -> Device:
    return request.param


@pytest.fixture
def visitor(browser, device: Device) -> Iterator:
    """The visitor's browser tab, in English (the portal's default is German)."""
    context = new_context(browser, device)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def wallet_context(browser) -> Iterator:
    """A second phone that stands in for the wallet app."""
    context = new_context(browser, PHONE)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture(autouse=True)
def _fast_flow(settings) -> None:
    """Pages poll often and the portal asks the demo issuer on every poll, so steps move at once."""
    settings.REGISTERFT_POLL_INTERVAL_MS = 250
    settings.REGISTERFT_STATUS_CHECK_INTERVAL = 0.0
    settings.LANGUAGE_CODE = "en"


def screenshot(page, name: str) -> Path:
    """A full-page screenshot in tests/artifacts/screenshots/ (git ignores it) for a person to see."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
