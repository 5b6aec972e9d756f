"""How the integration tests find Python 3.13 for the agent, without starting one."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.integration import agents
from tests.integration.agents import AgentSetupError, find_python313


def fake_python(folder: Path, name: str, *, version: str = "Python 3.13.0", works: bool = True) -> Path:
    script = folder / name
    body = f'echo "{version}"; exit 0' if works else 'echo "pyenv: python3.13: command not found" >&2; exit 127'
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


@pytest.fixture
def no_pythons(monkeypatch, tmp_path):
    """A PATH with nothing on it but what the test puts there, and no ACAPY_PYTHON."""
    monkeypatch.delenv("ACAPY_PYTHON", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    return tmp_path


def test_acapy_python_is_used_when_set(no_pythons, monkeypatch):
    configured = fake_python(no_pythons, "my-python")
    monkeypatch.setenv("ACAPY_PYTHON", str(configured))
    assert find_python313() == str(configured)


def test_a_configured_python_that_is_not_313_is_refused_by_name(no_pythons, monkeypatch):
    monkeypatch.setenv("ACAPY_PYTHON", str(fake_python(no_pythons, "old-python", version="Python 3.12.1")))
    with pytest.raises(AgentSetupError, match="ACAPY_PYTHON"):
        find_python313()


def test_python313_on_the_path_is_used_only_if_it_runs(no_pythons):
    fake_python(no_pythons, "python3.13", works=False)  # a pyenv shim for a version not selected
    pyenv_root = no_pythons / "pyenv-root"
    (pyenv_root / "versions" / "3.13.0" / "bin").mkdir(parents=True)
    pyenvs_python = fake_python(pyenv_root / "versions" / "3.13.0" / "bin", "python3")
    (no_pythons / "pyenv").write_text(f'#!/bin/sh\necho "{pyenv_root}"\n')
    (no_pythons / "pyenv").chmod(0o755)
    assert find_python313() == str(pyenvs_python)


def test_a_working_python313_on_the_path_comes_before_pyenv(no_pythons):
    on_path = fake_python(no_pythons, "python3.13")
    assert find_python313() == str(on_path)


def test_without_python313_the_error_says_how_to_install_it(no_pythons):
    with pytest.raises(AgentSetupError, match="pyenv install 3.13.0"):
        find_python313()


def test_the_agent_virtualenv_is_reused_when_it_holds_the_right_version(monkeypatch, tmp_path):
    monkeypatch.setattr(agents, "VENV", tmp_path / "venv")
    monkeypatch.setattr(agents, "_installed_version", lambda: agents.ACAPY_VERSION)
    monkeypatch.setattr(agents, "find_python313", lambda: pytest.fail("no Python needed for a ready venv"))
    assert agents.ensure_acapy() == tmp_path / "venv" / "bin" / "aca-py"
    assert not os.path.exists(tmp_path / "venv")
