"""The apps depend one way (README, "Where things live"): import-linter's layers contract in .importlinter.

Run as its command, in a process of its own: in-process, lint_imports() configures logging with dictConfig's
default disable_existing_loggers, which switched off every logger the app had made (the cache's outage log
tests then saw no line at all, in whichever test process had run this file first)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT / ".importlinter"


def lint_imports(config: Path) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).parent / "lint-imports"), "--config", str(config), "--no-cache"]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)  # root packages: from here


def test_no_app_imports_a_layer_above_it():
    linted = lint_imports(CONTRACT)

    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_the_contract_is_broken_by_an_import_from_a_layer_above(tmp_path):
    # The same contract with two layers swapped must fail: bills imports bags everywhere.
    swapped = CONTRACT.read_text().replace("    bills\n    scanning\n    bags\n", "    bags\n    scanning\n    bills\n")
    assert swapped != CONTRACT.read_text()
    config = tmp_path / "swapped.ini"
    config.write_text(swapped)

    linted = lint_imports(config)

    assert linted.returncode == 1, linted.stdout + linted.stderr
    assert "BROKEN" in linted.stdout
