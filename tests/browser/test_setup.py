"""How the browser suite gets its Chromium: installed with apt-get where it can be, otherwise a
failure under CI and a skip that names the command elsewhere. No browser is started here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.conftest import INSTALL_COMMAND, ensure_chromium

setup = sys.modules[ensure_chromium.__module__]


@pytest.fixture
def no_chromium(monkeypatch, tmp_path) -> Path:
    path = tmp_path / "chromium"
    monkeypatch.setattr(setup, "CHROMIUM", str(path))
    monkeypatch.setattr(setup, "_can_install", lambda: False)
    return path


def test_a_missing_chromium_fails_the_run_under_ci(no_chromium, monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=INSTALL_COMMAND.replace("&&", ".*")):
        ensure_chromium()


def test_a_missing_chromium_skips_with_the_install_command_elsewhere(no_chromium, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium"):
        ensure_chromium()


def test_it_installs_chromium_with_apt_get_as_root_on_debian(no_chromium, monkeypatch):
    commands = []

    def fake_run(command, **kwargs):
        commands.append(command)
        assert kwargs["timeout"] > 0  # apt may not hang the run
        if "install" in command:
            no_chromium.touch()
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(setup, "_can_install", lambda: True)
    monkeypatch.setattr(setup.subprocess, "run", fake_run)
    assert ensure_chromium() == str(no_chromium)
    assert commands[0][0] == "apt-get" and "update" in commands[0]
    assert commands[1][0] == "apt-get" and commands[1][-1] == "chromium" and "install" in commands[1]


def test_a_failed_install_fails_under_ci_with_apt_gets_message(no_chromium, monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(setup, "_can_install", lambda: True)
    monkeypatch.setattr(
        setup.subprocess, "run", lambda command, **kwargs: subprocess.CompletedProcess(command, 100, "", "E: no network")
    )
    with pytest.raises(pytest.fail.Exception, match="E: no network"):
        ensure_chromium()
