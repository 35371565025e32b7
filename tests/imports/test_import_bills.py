"""manage.py import_bills: bills with their parents from a file, the bill services' rules, every kind of bad
file and bad row, all or nothing (a database error half-way included), repeat imports."""

from datetime import date
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from openpyxl.worksheet.formula import ArrayFormula

from audit.choices import AuditAction
from audit.models import AuditLog
from bags.models import Bag, BagKind
from bills.models import Bill, BillBag
from tests import factories
from tests.imports.files import write_csv, write_xlsx

pytestmark = pytest.mark.django_db

HEADER = ["bill_number", "customer", "date", "expected_parents", "product", "notes", "parent"]


@pytest.fixture
def admin(db):
    return factories.make_user("importer", role="admin")


@pytest.fixture
def parents(db):
    return [factories.make_parent(f"SB0000{n}") for n in range(1, 5)]


def run(path: Path, *args: str) -> str:
    out = StringIO()
    call_command("import_bills", str(path), "--user", "importer", *args, stdout=out, verbosity=0)
    return out.getvalue()


def refused(path: Path, *args: str) -> tuple[str, str]:
    """(the CommandError's message, what was printed before it); the exit code says nothing was written."""
    out = StringIO()
    with pytest.raises(CommandError) as error:
        call_command("import_bills", str(path), "--user", "importer", *args, stdout=out, verbosity=0)
    assert error.value.returncode == 1
    return str(error.value), out.getvalue()


def partly(path: Path, *args: str) -> tuple[str, str]:
    """(the CommandError's message, the report) of an import that wrote its good rows and refused others."""
    out = StringIO()
    with pytest.raises(CommandError) as error:
        call_command("import_bills", str(path), "--user", "importer", "--skip-invalid", *args, stdout=out, verbosity=0)
    assert error.value.returncode == 3
    return str(error.value), out.getvalue()


def state() -> tuple:
    return (
        sorted(Bill.objects.values_list("bill_number", "customer", "expected_parents")),
        sorted(BillBag.objects.values_list("bill__bill_number", "parent_bag__qr_id")),
        AuditLog.objects.count(),
    )


def test_bills_and_their_parents_are_created_and_audited(admin, parents, tmp_path):
    rows = [
        HEADER,
        ["INV-1", "Jaipur Mills", "2026-11-20", "2", "mustard", "first", "SB00001"],
        ["INV-1", "", "", "", "", "", "SB00002"],
        ["INV-2", "Kota Traders", "2026-11-21", "1", "", "", "SB00003"],
    ]
    path = write_csv(tmp_path / "bills.csv", rows)

    output = run(path)

    assert "Imported: 2 bills, 3 parents on bills." in output
    bill = Bill.objects.get(bill_number="INV-1")
    assert (bill.customer, bill.bill_date, bill.expected_parents, bill.notes) == (
        "Jaipur Mills",
        date(2026, 11, 20),
        2,
        "first",
    )
    assert bill.created_by == admin
    assert sorted(BillBag.objects.values_list("bill__bill_number", "parent_bag__qr_id")) == [
        ("INV-1", "SB00001"),
        ("INV-1", "SB00002"),
        ("INV-2", "SB00003"),
    ]
    assert AuditLog.objects.filter(action=AuditAction.BILL_CREATE).count() == 2
    assert AuditLog.objects.get(action=AuditAction.BILL_IMPORT).after["bills"] == ["INV-1", "INV-2"]


def test_an_xlsx_with_date_cells_imports(admin, parents, tmp_path):
    rows = [HEADER, ["INV-9", "Ajmer", date(2026, 1, 5), 3, "Mustard", None, "SB00004"]]
    path = write_xlsx(tmp_path / "bills.xlsx", rows)

    run(path)

    assert Bill.objects.get(bill_number="INV-9").bill_date == date(2026, 1, 5)


def test_a_repeat_import_changes_nothing(admin, parents, tmp_path):
    rows = [HEADER, ["INV-1", "Jaipur", "2026-11-20", "2", "", "", "SB00001"], ["inv-1", "", "", "", "", "", "SB00002"]]
    path = write_csv(tmp_path / "bills.csv", rows)
    run(path)
    before = state()

    output = run(path)

    assert "row 2: already_present: SB00001 is already on bill INV-1." in output
    assert "0 to import, 2 already present, 0 with errors" in output
    assert state()[:2] == before[:2]


def test_the_bill_rules_are_checked_and_nothing_is_written(admin, parents, tmp_path):
    other = factories.make_bill(admin, bill_number="OLD-1")
    factories.put_on_bill(other, parents[3])
    factories.make_child("CH000001")
    rows = [
        HEADER,
        ["INV-1", "Jaipur", "2026-11-20", "2", "", "", "SB00001"],
        ["INV-1", "", "", "", "", "", "SB00004"],  # on bill OLD-1
        ["INV-1", "", "", "", "", "", "SB00001"],  # twice
        ["INV-1", "", "", "", "", "", "SB09999"],  # no such parent
        ["INV-1", "", "", "", "", "", "CH000001"],  # a child
        ["INV-1", "Elsewhere", "", "", "", "", "SB00002"],  # contradicts row 2
        ["INV-2", "Kota", "20/11/2026", "2", "", "", "SB00003"],  # not a date
        ["INV-2", "", "", "", "", "", "SB00002"],  # its bill is not made
        ["INV-3", "Kota", "2026-11-20", "900", "", "", ""],
        ["OLD-1", "Kota", "2026-11-20", "1", "", "", "SB00003"],  # an existing bill gains no parents
    ]
    path = write_csv(tmp_path / "bills.csv", rows)
    before = state()

    _, output = refused(path)

    lines = output.splitlines()
    assert lines[:10] == [
        "row 3: already_on_bill: SB00004 is already on bill OLD-1.",
        "row 4: duplicate_in_file: SB00001 is also on row 2: each parent once.",
        "row 5: unknown_parent: Parent bag SB09999 was not found.",
        lines[3],
        lines[4],
        "row 8: bad_date: '20/11/2026' is not a date: write YYYY-MM-DD, e.g. 2026-11-23.",
        "row 9: bill_not_made: Bill INV-2 is not made: see row 8.",
        "row 10: bad_expected_parents: expected_parents must be a whole number from 1 to 500, not '900'.",
        "row 11: bill_exists: Bill OLD-1 already exists; an import does not add parents to it (scan them on the "
        "bill page).",
        "10 rows read: 1 to import, 0 already present, 9 with errors.",
    ]
    assert lines[3].startswith("row 6: child_in_parent_column: parent: 'CH000001' is a child bag code.")
    assert lines[4].startswith("row 7: conflicting_bill_details: The details of bill INV-1 differ from row 2")
    assert state() == before


def test_skip_invalid_makes_the_good_bills(admin, parents, tmp_path):
    rows = [
        HEADER,
        ["INV-1", "Jaipur", "2026-11-20", "2", "", "", "SB00001"],
        ["INV-2", "", "2026-11-20", "1", "", "", ""],
    ]
    path = write_csv(tmp_path / "bills.csv", rows)

    _, output = partly(path)

    assert "row 3: missing_customer: The customer cell is empty." in output
    assert list(Bill.objects.values_list("bill_number", flat=True)) == ["INV-1"]


def test_a_file_missing_the_bill_columns_is_refused(admin, tmp_path):
    path = write_csv(tmp_path / "bills.csv", [["bill_number", "parent"], ["INV-1", "SB00001"]])

    with pytest.raises(CommandError, match="Row 1 has no customer, date, expected_parents column: bill files need"):
        run(path)


def test_a_column_the_import_does_not_know_is_refused(admin, tmp_path):
    rows = [[*HEADER, "weight"], ["INV-1", "Kota", "2026-11-20", "1", "", "", "", "3"]]
    path = write_csv(tmp_path / "bills.csv", rows)

    with pytest.raises(CommandError, match="Row 1 names columns this import does not know: 'weight'"):
        run(path)


def test_a_parent_on_two_bills_of_the_file_is_refused_on_its_second_row(admin, parents, tmp_path):
    rows = [
        HEADER,
        ["INV-1", "Jaipur", "2026-11-20", "2", "", "", "SB00002"],
        ["INV-2", "Kota", "2026-11-20", "2", "", "", "SB00001"],
        ["INV-1", "", "", "", "", "", "SB00001"],
    ]
    path = write_csv(tmp_path / "bills.csv", rows)
    before = state()

    message, output = refused(path)

    assert output.splitlines()[0] == "row 4: duplicate_in_file: SB00001 is also on row 3: each parent once."
    assert message == "1 bad rows: nothing was written."
    assert state() == before

    partly(path)

    assert sorted(BillBag.objects.values_list("bill__bill_number", "parent_bag__qr_id")) == [
        ("INV-1", "SB00002"),
        ("INV-2", "SB00001"),
    ]


def test_a_formula_cell_in_a_workbook_is_refused_with_its_row(admin, parents, tmp_path):
    rows = [HEADER, ["INV-1", "Jaipur", "2026-11-20", 2, None, None, "SB00001"]]
    rows += [["INV-1", None, None, None, None, None, '=G2&"2"']]
    path = write_xlsx(tmp_path / "bills.xlsx", rows)

    _, output = refused(path)

    assert output.splitlines()[0].startswith('row 3: formula: The parent cell holds a formula (=G2&"2")')
    assert Bill.objects.count() == 0


def test_an_array_formula_is_refused_not_written_as_text(admin, parents, tmp_path):
    # Excel 365 saves a formula that spills (=UPPER(...), =TRIM(...)) as an array formula.
    rows = [HEADER, ["INV-1", ArrayFormula("B2:B2", '=UPPER("kota")'), "2026-11-20", 1, None, None, "SB00001"]]
    path = write_xlsx(tmp_path / "bills.xlsx", rows)

    _, output = refused(path)

    assert output.splitlines()[0] == (
        'row 2: formula: The customer cell holds a formula (=UPPER("kota")); put the value itself.'
    )
    assert Bill.objects.count() == 0


def test_a_parent_or_bill_number_in_a_number_cell_is_refused_and_dates_and_counts_are_not(admin, parents, tmp_path):
    # Bill numbers and parent codes are text; the date and expected_parents columns take Excel's own cells.
    rows = [HEADER, ["INV-1", "Jaipur", date(2026, 11, 20), 2, None, None, "SB00001"]]
    rows += [[451, "Kota", date(2026, 11, 21), 1, None, None, "SB00002"]]
    rows += [["INV-3", "Ajmer", "2026-11-22", 1, None, None, 3]]
    path = write_xlsx(tmp_path / "bills.xlsx", rows)
    before = state()

    _, output = refused(path)

    fix = "format the column as Text in Excel and type the codes again."
    assert output.splitlines()[:2] == [
        f"row 3: number_cell: The bill_number cell holds the number 451 (Excel dropped any leading zeros); {fix}",
        f"row 4: number_cell: The parent cell holds the number 3 (Excel dropped any leading zeros); {fix}",
    ]
    assert state() == before

    partly(path)

    bill = Bill.objects.get()
    assert (bill.bill_number, bill.bill_date, bill.expected_parents) == ("INV-1", date(2026, 11, 20), 2)


def test_an_excel_error_cell_is_refused_not_written_as_the_customer(admin, parents, tmp_path):
    # A customer looked up with VLOOKUP that found nothing: Excel saves the error cell, not a name.
    rows = [HEADER, ["INV-1", "#N/A", "2026-11-20", 1, None, None, "SB00001"]]
    path = write_xlsx(tmp_path / "bills.xlsx", rows)
    before = state()

    _, output = refused(path)

    assert output.splitlines()[0] == (
        "row 2: excel_error: The customer cell holds Excel's error #N/A (a failed formula); put the value itself."
    )
    assert state() == before


def test_an_excel_error_saved_into_a_csv_is_refused(admin, parents, tmp_path):
    rows = [HEADER, ["INV-1", "Kota", "2026-11-20", "1", "", "", "SB00001"]]
    rows += [["INV-2", "#div/0!", "", "", "", "", "SB00002"]]
    path = write_csv(tmp_path / "bills.csv", rows)
    before = state()

    _, output = refused(path)

    assert output.splitlines()[0].startswith("row 3: excel_error: The customer cell holds Excel's error #div/0!")
    assert state() == before


def test_a_bill_past_500_parents_is_refused_from_the_row_that_does_not_fit(admin, mustard, tmp_path):
    Bag.objects.bulk_create(Bag(qr_id=f"SB{n:05d}", kind=BagKind.PARENT, product=mustard) for n in range(1, 503))
    first = ["INV-1", "Jaipur", "2026-11-20", "500", "", ""]
    rows = [HEADER, [*first, "SB00001"], *(["INV-1", "", "", "", "", "", f"SB{n:05d}"] for n in range(2, 503))]
    path = write_csv(tmp_path / "bills.csv", rows)

    _, output = refused(path)

    assert output.splitlines()[:2] == [
        "row 502: bill_full: Bill INV-1 already holds 500 parent bags, the most a bill takes.",
        "row 503: bill_full: Bill INV-1 already holds 500 parent bags, the most a bill takes.",
    ]
    assert Bill.objects.count() == 0


FAIL_ON_ROW_500 = """
CREATE FUNCTION test_fail_on_row_500() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT qr_id FROM bags_bag WHERE id = NEW.parent_bag_id) = 'SB00499' THEN
        RAISE EXCEPTION 'injected failure on the bill parent of row 500';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER test_fail_on_row_500 BEFORE INSERT ON bills_billbag FOR EACH ROW
EXECUTE FUNCTION test_fail_on_row_500();
"""


def test_a_database_error_half_way_leaves_the_database_as_it_was(admin, mustard, tmp_path):
    Bag.objects.bulk_create(Bag(qr_id=f"SB{n:05d}", kind=BagKind.PARENT, product=mustard) for n in range(1, 601))
    factories.make_bill(admin, bill_number="OLD-1")
    with connection.cursor() as cursor:
        cursor.execute(FAIL_ON_ROW_500)
    # 20 bills of 30 parents: row 500 of the file (header = row 1) puts SB00499 on the 17th bill.
    rows = [HEADER]
    for n in range(1, 601):
        bill = (n - 1) // 30 + 1
        details = [f"Customer {bill}", "2026-11-20", "30", "", ""] if n % 30 == 1 else ["", "", "", "", ""]
        rows.append([f"INV-{bill}", *details, f"SB{n:05d}"])
    path = write_csv(tmp_path / "bills.csv", rows)
    before = state()

    error, _ = refused(path)

    assert error.startswith("The database refused the import, so nothing was written: injected failure")
    assert state() == before
