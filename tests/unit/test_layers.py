"""The house's layering holds: the contracts in .importlinter, checked by import-linter over the
portal's own packages (function-level imports count)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def lint_imports(*args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(  # noqa: S603 - our own venv's script, fixed arguments
        [str(script), "--no-cache", *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_arrows_run_one_way_and_no_module_imports_in_a_circle():
    result = lint_imports()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "3 kept, 0 broken" in result.stdout


def test_the_contracts_catch_an_upward_import(tmp_path):
    """A services module that imported a view would break the layers contract."""
    offending = ROOT / "onboarding" / "zz_layer_probe.py"
    config = tmp_path / "probe.ini"
    config.write_text(
        (ROOT / ".importlinter").read_text().replace("    services\n", "    services : zz_layer_probe\n")
    )
    offending.write_text("from onboarding.views import flow  # noqa: F401\n")
    try:
        result = lint_imports("--config", str(config))
    finally:
        offending.unlink()
    assert result.returncode != 0
    assert "zz_layer_probe" in result.stdout and "BROKEN" in result.stdout
