"""bandit, Python's security linter, finds nothing of medium or high severity in the portal's code.

A finding is fixed, or, where it is a false alarm, marked ``# nosec <test id>`` with the reason
on the same line.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(180)
def test_bandit_finds_nothing_of_medium_or_high_severity():
    if importlib.util.find_spec("bandit") is None:
        pytest.fail(f"bandit is missing: {sys.executable} -m pip install -r requirements-dev.txt")
    result = subprocess.run(
        [sys.executable, "-m", "bandit", "-q", "-r", "onboarding", "registerft", "-ll"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert result.returncode == 0, result.stdout + result.stderr
