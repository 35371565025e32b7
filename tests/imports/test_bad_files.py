"""Files no import can take, whatever their columns: import_bags, import_bills and the admin's import of
bags and of bills each refuse them whole, with a clear message, and change nothing. (Bad rows and the
columns of each layout are in the tests of each import.)"""

from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils.html import escape

from audit.models import AuditLog
from bags.models import Bag, Link
from bills.models import Bill, BillBag
from imports.choices import JobStatus
from imports.models import ImportJob, Upload
from scanning.models import Scan
from tests import factories
from tests.imports.files import write_csv, write_xlsx
from tests.worker import wait_for

pytestmark = pytest.mark.django_db

COMMANDS = ("import_bags", "import_bills")
ADMIN_IMPORTS = ("admin:bags_bag_import", "admin:bills_bill_import")
# A header each import knows, and a junk row under it, for the million-row file.
JUNK = {
    "import_bags": ("code", "#{n}!"),
    "import_bills": ("bill_number,customer,date,expected_parents,parent", "#{n}!,,,,"),
}

# (file name, content, the start of the refusal).
BAD_FILES = [
    ("bags.xls", b"whatever", "'bags.xls' is not a .csv or .xlsx file. Save it from Excel as .xlsx"),
    ("bags.txt", b"code\nSB00001\n", "'bags.txt' is not a .csv or .xlsx file."),
    ("bags.xlsx", b"code\nSB00001\n", "'bags.xlsx' is not really an Excel workbook (.xlsx)."),
    ("bags.csv", b"", "The file is empty."),
    ("bags.csv", b"\n\n", "Row 1 must name the columns (e.g. parent, child); it is empty."),
    ("bags.csv", b"code\nSB00\x001\n", "Row 2 holds a NUL byte: this is not a CSV text file."),
    ("bags.csv", "code\nSBé1\n".encode("latin-1"), "Row 2 is not UTF-8 text"),
    ("bags.csv", b"PK\x03\x04rest", "This file is a zip archive (perhaps an Excel workbook), not CSV text."),
    ("bags.csv", b"qr,weight\nSB00001,3\n", "Row 1 "),  # each import names the columns it needs
    # Excel's "Unicode Text", with its byte order mark, and UTF-16 without one (big-endian too).
    ("bags.csv", "code\nSB00001\n".encode("utf-16"), "This file is UTF-16 text (Excel's 'Unicode Text'); save"),
    ("bags.csv", "code\nSB00001\n".encode("utf-16-be"), "This file is UTF-16 text"),
    # Saved with another list separator: row 1 reads as one column.
    (
        "bags.csv",
        b"parent;child\nSB00001;CH000001\n",
        "Row 1 has one column 'parent;child': the file seems to be separated by ';', save it as CSV with commas",
    ),
    (
        "bags.csv",
        b"parent\tchild\nSB00001\tCH000001\n",
        "Row 1 has one column 'parent\\tchild': the file seems to be separated by tabs",
    ),
    ("bags.csv", b'"parent,child\nSB00001,CH000001\n', "Line 1: a quote opened on this line is never closed"),
]


@pytest.fixture
def importer(db):
    return factories.make_user("importer", role="admin")


def state() -> tuple:
    """Everything an import may change."""
    return (
        sorted(Bag.objects.values_list("qr_id", "child_count")),
        Link.objects.count(),
        Scan.objects.count(),
        sorted(Bill.objects.values_list("bill_number", flat=True)),
        BillBag.objects.count(),
        AuditLog.objects.count(),
    )


def refused(command: str, path: Path) -> tuple[str, str]:
    """(the CommandError's message, what was printed before it)."""
    out = StringIO()
    with pytest.raises(CommandError) as error:
        call_command(command, str(path), "--user", "importer", stdout=out, verbosity=0)
    assert error.value.returncode == 1
    return str(error.value), out.getvalue()


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(("name", "content", "message"), BAD_FILES)
def test_the_commands_refuse_a_bad_file_and_change_nothing(importer, tmp_path, command, name, content, message):
    factories.make_parent("SB00001")
    path = tmp_path / name
    path.write_bytes(content)
    before = state()

    error, _ = refused(command, path)

    assert error.startswith(message)
    assert state() == before


# The admin runs the same service in the background worker: a few of the files, each import, end to end.
ADMIN_BAD_FILES = [BAD_FILES[0], BAD_FILES[2], BAD_FILES[5], BAD_FILES[8]]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize("url_name", ADMIN_IMPORTS)
@pytest.mark.parametrize(("name", "content", "message"), ADMIN_BAD_FILES)
def test_the_admin_refuses_a_bad_file_on_the_job_page_and_changes_nothing(
    admin_client, url_name, name, content, message
):
    factories.make_parent("SB00001")
    before = state()

    queued = admin_client.post(reverse(url_name), {"import_file": SimpleUploadedFile(name, content)})
    job = wait_for(ImportJob.objects.get())

    assert job.status == JobStatus.REFUSED
    text = admin_client.get(queued.url).content.decode()
    assert escape(message) in text
    assert "Confirm import" not in text
    assert state() == before
    assert Upload.objects.count() == 0


def test_the_admin_turns_an_empty_upload_away_at_once(admin_client):
    page = admin_client.post(reverse(ADMIN_IMPORTS[0]), {"import_file": SimpleUploadedFile("bags.csv", b"")})

    # Django's file field turns an empty upload away before any job is queued.
    assert escape("The submitted file is empty.") in page.content.decode()
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_a_million_rows_of_junk_are_refused_after_the_first_thousand_bad_rows(importer, tmp_path, command):
    header, junk_row = JUNK[command]
    path = tmp_path / "junk.csv"
    with path.open("w") as junk:
        junk.write(header + "\n")
        junk.writelines(junk_row.format(n=n) + "\n" for n in range(1_000_000))
    before = state()

    message, output = refused(command, path)

    assert message == "1,000 bad rows: nothing was written."
    assert "Reading stopped at row 1,001 after 1,000 bad rows." in output
    assert output.count("\n") < 1_010  # the report lists at most 1,000 rows
    assert state() == before


# A header each import takes, with nothing under it but blank rows.
HEADERS = {
    "import_bags": ["parent", "child"],
    "import_bills": ["bill_number", "customer", "date", "expected_parents", "parent"],
}


def header_only(path: Path, header: list[str]) -> Path:
    if path.suffix == ".csv":
        return write_csv(path, [header, [""] * len(header), []])
    return write_xlsx(path, [header, [None] * len(header)])


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
@pytest.mark.parametrize("command", COMMANDS)
def test_a_header_with_no_rows_under_it_is_refused_and_not_audited(importer, tmp_path, command, suffix):
    path = header_only(tmp_path / f"header{suffix}", HEADERS[command])
    before = state()

    for extra in ((), ("--dry-run",), ("--skip-invalid",)):
        out = StringIO()
        with pytest.raises(CommandError) as error:
            call_command(command, str(path), "--user", "importer", *extra, stdout=out, verbosity=0)

        assert (str(error.value), error.value.returncode) == ("The file has a header but no rows.", 1)
        assert "Imported" not in out.getvalue()
    assert state() == before  # no audit row either


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize(
    ("url_name", "command", "suffix"),
    [(ADMIN_IMPORTS[0], COMMANDS[0], ".csv"), (ADMIN_IMPORTS[1], COMMANDS[1], ".xlsx")],
)
def test_the_admin_refuses_a_header_with_no_rows_and_offers_no_confirm(
    admin_client, tmp_path, url_name, command, suffix
):
    path = header_only(tmp_path / f"header{suffix}", HEADERS[command])
    before = state()

    queued = admin_client.post(reverse(url_name), {"import_file": SimpleUploadedFile(path.name, path.read_bytes())})
    job = wait_for(ImportJob.objects.get())

    text = admin_client.get(queued.url).content.decode()
    assert job.status == JobStatus.REFUSED
    assert "The file has a header but no rows." in text
    assert "Confirm import" not in text
    assert state() == before
