"""The import commands' exit codes, as cron sees them (the README's table): 0 every row imported or already
there (or a dry run found nothing wrong), 3 --skip-invalid refused some rows and kept the others, 1 nothing
written (bad rows, every row refused, a refused file). And a repeat import's report: a count, not a line a row."""

import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from audit.choices import AuditAction
from audit.models import AuditLog
from bags.models import Bag, Link
from bills.models import Bill
from tests import factories
from tests.imports.files import link_rows, write_csv
from tests.worker import worker_env

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(area):
    return factories.make_user("importer", role="admin")


def call(command: str, path: Path, *args: str, verbosity: int = 0) -> tuple[int, str, str]:
    """(the exit code, the CommandError's message, the report)."""
    out = StringIO()
    try:
        call_command(command, str(path), "--user", "importer", *args, stdout=out, verbosity=verbosity)
    except CommandError as error:
        return error.returncode, str(error), out.getvalue()
    return 0, "", out.getvalue()


def audited() -> int:
    return AuditLog.objects.filter(action__in=[AuditAction.BAG_IMPORT, AuditAction.BILL_IMPORT]).count()


# (arguments, rows of the links file below the header, exit code, the end of the report).
CASES = [
    pytest.param((), [["SB00001", "CH000001"]], 0, "Imported: 1 parents, 1 children, 1 links", id="all-imported"),
    pytest.param(("--dry-run",), [["SB00001", "CH000001"]], 0, "Dry run, nothing was written.", id="dry-run-clean"),
    pytest.param((), [["SB00001", "CH000001"], ["SB00001", "x"]], 1, "Nothing was written: fix the rows", id="bad-row"),
    pytest.param(
        ("--skip-invalid",),
        [["SB00001", "CH000001"], ["SB00001", "x"]],
        3,
        "Imported: 1 parents, 1 children, 1 links, 0 parents now full; 1 bad rows skipped.",
        id="skip-invalid-some-refused",
    ),
    pytest.param(
        ("--skip-invalid", "--dry-run"),
        [["SB00001", "CH000001"], ["SB00001", "x"]],
        3,
        "Dry run, nothing was written. The import would add 1 parents",
        id="skip-invalid-dry-run-some-refused",
    ),
    pytest.param(
        ("--skip-invalid",),
        [["SB00001", "x"], ["SB00001", "y"]],
        1,
        "Nothing was written: every row was refused.",
        id="skip-invalid-every-row-refused",
    ),
]


@pytest.mark.parametrize(("args", "rows", "exit_code", "outcome"), CASES)
def test_the_exit_code_says_what_was_written(admin, tmp_path, args, rows, exit_code, outcome):
    path = write_csv(tmp_path / "links.csv", [["parent", "child"], *rows])

    code, _, output = call("import_bags", path, *args)

    assert code == exit_code
    assert output.splitlines()[-1].startswith(outcome)
    written = exit_code != 1 and "--dry-run" not in args
    assert (Link.objects.count() > 0, audited()) == (written, int(written))


# A header each import knows, and a row under it that is always refused.
JUNK = {
    "import_bags": ("code", "#{n}!"),
    "import_bills": ("bill_number,customer,date,expected_parents,parent", "B{n},,,,"),
}


@pytest.mark.parametrize("command", ["import_bags", "import_bills"])
def test_skip_invalid_with_every_one_of_many_rows_refused_exits_1_and_audits_nothing(admin, tmp_path, command):
    # More bad rows than a report lists (and than stop a read without --skip-invalid): all read, all refused.
    header, junk = JUNK[command]
    path = tmp_path / "junk.csv"
    path.write_text(header + "\n" + "".join(junk.format(n=n) + "\n" for n in range(2_500)))

    code, message, output = call(command, path, "--skip-invalid")

    assert (code, message) == (1, "2,500 bad rows: nothing was written.")
    assert "2,500 rows read: 0 to import, 0 already present, 2,500 with errors." in output
    assert output.splitlines()[-1] == "Nothing was written: every row was refused."
    assert (Bag.objects.count(), Bill.objects.count(), audited()) == (0, 0, 0)


@pytest.mark.parametrize("command", ["import_bags", "import_bills"])
def test_a_refused_file_exits_1(admin, tmp_path, command):
    path = tmp_path / "bags.csv"
    path.write_bytes("code\n".encode("utf-16"))

    assert call(command, path, "--skip-invalid")[:2] == (
        1,
        "This file is UTF-16 text (Excel's 'Unicode Text'); save it as 'CSV UTF-8'.",
    )


# --- A repeat import ---------------------------------------------------------------------------------------


def test_a_repeat_import_of_many_rows_prints_a_count_not_a_line_a_row(admin, tmp_path):
    path = write_csv(tmp_path / "links.csv", link_rows(40, 25))
    call("import_bags", path)

    code, _, output = call("import_bags", path)

    assert code == 0
    assert output.splitlines() == [
        "1,000 rows already present, not listed (--verbosity 2 lists them).",
        "1,000 rows read: 0 to import, 1,000 already present, 0 with errors.",
        "1,000 rows already present; nothing to do.",
    ]


def test_a_repeat_import_lists_the_rows_present_when_few_or_asked(admin, tmp_path):
    few = write_csv(tmp_path / "few.csv", link_rows(1, 20))
    many = write_csv(tmp_path / "many.csv", link_rows(3, 7, parent_start=2, child_prefix="CX"))
    call("import_bags", few)
    call("import_bags", many)

    assert call("import_bags", few)[2].count("already_present") == 20
    assert call("import_bags", many)[2].count("already_present") == 0
    assert call("import_bags", many, verbosity=2)[2].count("already_present") == 21


# --- Through manage.py, as cron runs it -------------------------------------------------------------------

MANAGE = Path(settings.BASE_DIR) / "manage.py"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_manage_py_exits_0_3_and_1(admin, tmp_path):
    env = worker_env()  # the test database, the embedded server's socket folder included

    def exit_code(rows: list[list[str]], *args: str) -> int:
        path = write_csv(tmp_path / "links.csv", [["parent", "child"], *rows])
        command = [sys.executable, str(MANAGE), "import_bags", str(path), "--user", "importer", *args]
        return subprocess.run(command, env=env, capture_output=True, check=False, timeout=120).returncode

    assert exit_code([["SB00001", "CH000001"]]) == 0
    assert exit_code([["SB00001", "CH000002"], ["SB00001", "x"]], "--skip-invalid") == 3
    assert exit_code([["SB00001", "CH000003"], ["SB00001", "x"]]) == 1
    assert sorted(Link.objects.values_list("child__qr_id", flat=True)) == ["CH000001", "CH000002"]
