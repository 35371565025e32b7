"""The apps depend one way (README, "Where things live"): import-linter's layers contract in .importlinter."""

from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT / ".importlinter"


def test_no_app_imports_a_layer_above_it(monkeypatch):
    monkeypatch.chdir(ROOT)  # the root packages are found from the checkout's top

    assert lint_imports(config_filename=str(CONTRACT), no_cache=True, no_logo=True) == 0


def test_the_contract_is_broken_by_an_import_from_a_layer_above(monkeypatch, tmp_path):
    # The same contract with two layers swapped must fail: bills imports bags everywhere.
    swapped = CONTRACT.read_text().replace("    bills\n    scanning\n    bags\n", "    bags\n    scanning\n    bills\n")
    assert swapped != CONTRACT.read_text()
    config = tmp_path / "swapped.ini"
    config.write_text(swapped)
    monkeypatch.chdir(ROOT)

    assert lint_imports(config_filename=str(config), no_cache=True, no_logo=True) == 1
