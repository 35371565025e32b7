"""manage.py import_bags against the real database: the layouts, every kind of bad file and bad row, all or
nothing (a database error half-way included), repeat imports, capacity, --skip-invalid."""

import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from io import StringIO
from pathlib import Path

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from openpyxl.worksheet.formula import ArrayFormula

from audit.choices import AuditAction
from audit.models import AuditLog
from bags.models import Bag, BagKind, Link, Product
from scanning.models import Scan, ScanAction
from tests import factories
from tests.imports.files import link_rows, write_csv, write_excel_xlsx, write_xlsx

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(area):
    return factories.make_user("importer", role="admin")


def run(path: Path, *args: str) -> str:
    out = StringIO()
    call_command("import_bags", str(path), "--user", "importer", *args, stdout=out, verbosity=0)
    return out.getvalue()


def refused(path: Path, *args: str) -> tuple[str, str]:
    """(the CommandError's message, what was printed before it); the exit code says nothing was written."""
    out = StringIO()
    with pytest.raises(CommandError) as error:
        call_command("import_bags", str(path), "--user", "importer", *args, stdout=out, verbosity=0)
    assert error.value.returncode == 1
    return str(error.value), out.getvalue()


def partly(path: Path, *args: str) -> tuple[str, str]:
    """(the CommandError's message, the report) of an import that wrote its good rows and refused others."""
    out = StringIO()
    with pytest.raises(CommandError) as error:
        call_command("import_bags", str(path), "--user", "importer", "--skip-invalid", *args, stdout=out, verbosity=0)
    assert error.value.returncode == 3
    return str(error.value), out.getvalue()


def state() -> tuple:
    """Everything an import may change, to compare before and after."""
    return (
        sorted(Bag.objects.values_list("qr_id", "kind", "child_count", "completed_at", "dispatch_area_id")),
        sorted(Link.objects.values_list("parent__qr_id", "child__qr_id")),
        Scan.objects.count(),
        AuditLog.objects.filter(action=AuditAction.BAG_IMPORT).count(),
    )


# --- The layouts --------------------------------------------------------------------------------------------


def test_link_rows_create_parents_children_links_and_import_scans(admin, tmp_path):
    path = write_csv(tmp_path / "links.csv", link_rows(2, 3))

    output = run(path)

    assert "Imported: 2 parents, 6 children, 6 links" in output
    assert sorted(Link.objects.values_list("parent__qr_id", "child__qr_id")) == [
        ("SB00001", "CH000001"),
        ("SB00001", "CH000002"),
        ("SB00001", "CH000003"),
        ("SB00002", "CH000004"),
        ("SB00002", "CH000005"),
        ("SB00002", "CH000006"),
    ]
    parent = Bag.objects.get(qr_id="SB00001")
    assert parent.kind == BagKind.PARENT and parent.product.code == "mustard" and parent.child_count == 3
    assert parent.completed_at is None
    scans = Scan.objects.filter(bag__qr_id="CH000001")
    assert list(scans.values_list("action", "parent_qr", "user__username")) == [
        (ScanAction.IMPORT, "SB00001", "importer")
    ]
    entry = AuditLog.objects.get(action=AuditAction.BAG_IMPORT)
    assert entry.actor == admin
    assert entry.after["created"] == {"parents": 2, "children": 6, "links": 6, "parents now full": 0}


def test_xlsx_link_rows_with_product_and_area_columns(admin, area, tmp_path):
    other = factories.make_area("Yard 2")
    rows = [["Parent", "Child", "Product", "Area"], ["SB00001", "CH1001", "Mustard", other.code]]
    rows += [["M444-00001", "CH1002", "moong", ""]]
    path = write_xlsx(tmp_path / "links.xlsx", rows)

    run(path, "--area", area.code)

    assert Bag.objects.get(qr_id="SB00001").dispatch_area == other
    assert Bag.objects.get(qr_id="CH1001").dispatch_area == other  # a new child takes its parent's area
    assert Bag.objects.get(qr_id="M444-00001").dispatch_area == area  # the default for rows naming none
    assert Bag.objects.get(qr_id="M444-00001").product.code == "moong"


def test_the_default_area_is_for_new_bags_only(admin, area, tmp_path):
    north = factories.make_area("North")
    factories.make_parent("SB00001", dispatch_area=north)
    factories.make_child("CH900001", dispatch_area=north)
    rows = [["parent", "child"], ["SB00001", "CH000001"], ["SB00002", "CH000002"], ["SB00002", "CH000003"]]
    links = write_csv(tmp_path / "links.csv", rows)
    bags = write_csv(tmp_path / "bags.csv", [["code"], ["CH900001"], ["CH000009"]])

    run(links, "--area", area.code)
    output = run(bags, "--area", area.code)

    areas = dict(Bag.objects.values_list("qr_id", "dispatch_area__code"))
    assert areas["SB00001"] == areas["CH000001"] == north.code  # an existing parent keeps its area
    assert areas["SB00002"] == areas["CH000002"] == area.code
    assert "row 2: already_present: CH900001 is already there; left as it is." in output
    assert areas["CH900001"] == north.code and areas["CH000009"] == area.code


def test_a_loose_child_imported_into_a_parent_takes_the_parents_area(admin, area, tmp_path):
    north = factories.make_area("North")
    factories.make_parent("SB00001", dispatch_area=north)
    for code in ("CH900001", "CH900002"):
        factories.make_child(code, dispatch_area=area)
    rows = [["parent", "child", "area"], ["SB00001", "CH900001", ""], ["SB00002", "CH900002", north.code]]

    run(write_csv(tmp_path / "links.csv", rows), "--area", area.code)

    areas = dict(Bag.objects.values_list("qr_id", "dispatch_area__code"))
    assert areas == {"SB00001": north.code, "SB00002": north.code, "CH900001": north.code, "CH900002": north.code}
    moved = Bag.objects.get(qr_id="CH900001")
    assert moved.updated_at == Scan.objects.get(bag=moved).created_at


def test_rows_of_a_new_parent_naming_no_area_take_the_area_another_row_names(admin, area, tmp_path):
    rows = [["parent", "child", "area"], ["SB00001", "CH000001", ""], ["SB00001", "CH000002", area.code]]
    rows += [["SB00001", "CH000003", ""]]
    path = write_csv(tmp_path / "links.csv", rows)

    run(path)

    assert set(Bag.objects.values_list("dispatch_area", flat=True)) == {area.pk}


def test_a_workbook_as_excel_saves_it_imports(admin, tmp_path):
    # Shared strings, as Excel writes them; a code of digits typed into a number cell has lost its zeros.
    rows = [["parent", "child"], ["SB00001", "CH000001"], ["SB00001", 12345678], ["sb00002", "CH000001 "]]
    path = write_excel_xlsx(tmp_path / "links.xlsx", rows)

    _, output = refused(path)
    assert output.splitlines()[:2] == [
        "row 3: number_cell: The child cell holds the number 12345678 (Excel dropped any leading zeros); "
        "format the column as Text in Excel and type the codes again.",
        "row 4: duplicate_in_file: CH000001 is also on row 2: each bag once per file.",
    ]

    partly(path)

    assert sorted(Link.objects.values_list("parent__qr_id", "child__qr_id")) == [("SB00001", "CH000001")]


def test_a_bag_list_creates_parents_and_children_by_their_codes(admin, tmp_path):
    path = write_csv(tmp_path / "bags.csv", [["code"], ["sb00007"], [" ch2001 "], ["M444-00009"]])

    output = run(path)

    assert "Imported: 2 parents, 1 children" in output
    assert dict(Bag.objects.values_list("qr_id", "kind")) == {
        "SB00007": BagKind.PARENT,
        "CH2001": BagKind.CHILD,
        "M444-00009": BagKind.PARENT,
    }
    assert Link.objects.count() == 0


def test_a_parent_filled_to_capacity_is_completed_as_a_scan_would(admin, mustard, tmp_path):
    mustard.capacity = 3
    mustard.save()
    path = write_csv(tmp_path / "links.csv", link_rows(1, 3))

    run(path)

    parent = Bag.objects.with_completion().get(qr_id="SB00001")
    assert (parent.child_count, parent.full, parent.complete) == (3, True, True)
    assert parent.completed_at is None  # full, not marked by anyone


def test_a_dry_run_reports_what_it_would_do_and_writes_nothing(admin, tmp_path):
    path = write_csv(tmp_path / "links.csv", link_rows(1, 2))
    before = state()

    output = run(path, "--dry-run")

    assert "Dry run, nothing was written. The import would add 1 parents, 2 children, 2 links" in output
    assert state() == before


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_links_file_waits_for_a_parent_a_scan_holds_and_a_bag_list_does_not(admin, tmp_path):
    parent = factories.make_parent("SB00001")
    links = write_csv(tmp_path / "links.csv", link_rows(1, 1))
    bags = write_csv(tmp_path / "bags.csv", [["code"], ["SB00001"], ["CH000009"]])
    with psycopg.connect(**connection.get_connection_params()) as scan, connection.cursor() as cursor:
        scan.execute("SELECT 1 FROM bags_bag WHERE id = %s FOR UPDATE", [parent.pk])  # a scan's transaction
        cursor.execute("SET lock_timeout = '1s'")
        try:
            waited, _ = refused(links)
            output = run(bags)
        finally:
            cursor.execute("RESET lock_timeout")

    assert waited.startswith("The database refused the import, so nothing was written: canceling statement")
    assert "Imported: 0 parents, 1 children." in output


# --- Repeat imports -----------------------------------------------------------------------------------------


def test_a_repeat_import_changes_nothing_and_reports_the_rows_as_present(admin, tmp_path):
    path = write_csv(tmp_path / "links.csv", link_rows(2, 3))
    run(path)
    before = state()

    output = run(path)

    assert "row 2: already_present: CH000001 is already in SB00001; left as it is." in output
    assert "0 to import, 6 already present, 0 with errors" in output
    after = state()
    assert after[:3] == before[:3]


def test_a_repeat_bag_list_reports_the_bags_as_present(admin, tmp_path):
    path = write_csv(tmp_path / "bags.csv", [["code"], ["SB00007"], ["CH2001"]])
    run(path)
    before = state()

    output = run(path)

    assert "row 2: already_present: SB00007 is already there; left as it is." in output
    assert state()[:3] == before[:3]


# --- Bad rows: nothing written, every row reported -------------------------------------------------------------


def test_bad_rows_are_reported_row_by_row_and_nothing_is_written(admin, tmp_path):
    factories.make_parent("SB00100")
    rows = [
        ["parent", "child"],
        ["SB00001", "CH000001"],  # fine
        ["SB1234", "CH000002"],  # a misread parent label
        ["SB00001", "SB00002"],  # a parent code where a child goes
        ["SB00001", "CH000001"],  # the same child again
        ["SB00001", "=A1&B1"],  # a formula
        ["SB00001", "CH 0003"],  # a space inside
    ]
    path = write_csv(tmp_path / "links.csv", rows)
    before = state()

    message, output = refused(path)

    assert message == "5 bad rows: nothing was written."
    lines = output.splitlines()
    assert lines[0].startswith("row 3: bad_parent_format: parent: 'SB1234' looks like a Mustard parent code")
    assert lines[1].startswith("row 4: parent_in_child_column: child: 'SB00002' is a parent bag code")
    assert lines[2] == "row 5: duplicate_in_file: CH000001 is also on row 2: each bag once per file."
    assert lines[3].startswith("row 6: formula: The child cell holds a formula (=A1&B1)")
    assert lines[4].startswith("row 7: bad_characters: child: 'CH 0003' contains a space inside it")
    assert "6 rows read: 1 to import, 0 already present, 5 with errors." in output
    assert state() == before


def test_skip_invalid_writes_the_good_rows_and_reports_the_rest(admin, tmp_path):
    rows = [["parent", "child"], ["SB00001", "CH000001"], ["SB00001", "x"], ["SB00001", "CH000002"]]
    path = write_csv(tmp_path / "links.csv", rows)

    _, output = partly(path)

    assert "row 3: too_short" in output
    assert "Imported: 1 parents, 2 children, 2 links, 0 parents now full; 1 bad rows skipped." in output
    assert Bag.objects.get(qr_id="SB00001").child_count == 2


def test_a_child_in_another_parent_is_refused_naming_it(admin, tmp_path):
    factories.link(factories.make_parent("SB00050"), factories.make_child("CH000001"))
    path = write_csv(tmp_path / "links.csv", link_rows(1, 2))

    _, output = refused(path)

    assert "row 2: child_in_other_parent: CH000001 is already in parent SB00050; it was not put into SB00001." in output


def test_a_parent_past_its_capacity_is_refused_from_the_row_that_does_not_fit(admin, mustard, tmp_path):
    mustard.capacity = 3
    mustard.save()
    parent = factories.make_parent("SB00001")
    factories.link(parent, factories.make_child("CH900001"))
    path = write_csv(tmp_path / "links.csv", link_rows(1, 3))

    _, output = refused(path)

    assert output.splitlines()[0] == (
        "row 4: parent_full: SB00001 is full: it holds 1 of 3, and this file has more children for it."
    )
    assert Bag.objects.get(qr_id="SB00001").child_count == 1

    partly(path)

    parent = Bag.objects.with_completion().get(pk=parent.pk)
    assert (parent.child_count, parent.complete) == (3, True)


def test_a_parent_marked_complete_takes_no_more_children(admin, tmp_path):
    from django.utils import timezone

    factories.make_parent("SB00001", completed_at=timezone.now())
    path = write_csv(tmp_path / "links.csv", link_rows(1, 1))

    _, output = refused(path)

    assert "parent_complete: SB00001 was marked complete with 0 of 30" in output


def test_a_parent_of_another_area_is_refused(admin, area, tmp_path):
    factories.make_parent("SB00001", dispatch_area=factories.make_area("North"))
    path = write_csv(tmp_path / "links.csv", [["parent", "child", "area"], ["SB00001", "CH000001", area.code]])

    _, output = refused(path)

    assert f"other_area: SB00001 belongs to North, not {area.name}." in output


def test_a_product_that_does_not_own_the_code_is_refused(admin, tmp_path):
    path = write_csv(tmp_path / "links.csv", [["parent", "child", "product"], ["SB00001", "CH000001", "moong"]])

    _, output = refused(path)

    assert "product_mismatch: SB00001 is a Mustard parent code, not Moong." in output


def test_unknown_product_and_area_are_refused(admin, tmp_path):
    rows = [["code", "product", "area"], ["SB00001", "rice", ""], ["SB00002", "", "nowhere"]]
    path = write_csv(tmp_path / "bags.csv", rows)

    _, output = refused(path)

    assert "row 2: unknown_product: There is no product 'rice'." in output
    assert "row 3: unknown_area: There is no dispatch area 'nowhere'." in output


def test_a_code_of_the_other_kind_already_is_refused(admin, tmp_path):
    # A child whose code a product added later reads as a parent is still a child for life.
    factories.make_child("RC00001")
    Product.objects.create(code="rice", name="Rice", parent_prefix="RC", parent_digits=5)
    path = write_csv(tmp_path / "links.csv", [["parent", "child"], ["RC00001", "CH000001"]])

    _, output = refused(path)

    assert "row 2: parent_is_child: RC00001 is already a child bag; it cannot be a parent." in output


# --- Bad files: a clear message, nothing changed (and tests/imports/test_bad_files.py) --------------------------


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bags.csv", b"parent\nSB00001\n", "Row 1 has no child column: link files need parent, child"),
        ("bags.csv", b"qr,weight\nSB00001,3\n", "Row 1 must name the columns: 'parent, child'"),
        ("bags.csv", b"code,prodcut\nSB00001,x\n", "Row 1 names columns this import does not know: 'prodcut'."),
    ],
)
def test_a_header_without_the_columns_of_a_layout_is_refused(admin, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    before = state()

    error, _ = refused(path)

    assert error.startswith(message)
    assert state() == before


def test_a_zip_that_is_not_a_workbook_is_refused(admin, tmp_path):
    path = tmp_path / "bags.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")

    error, _ = refused(path)

    assert error == "'bags.xlsx' is not really an Excel workbook (.xlsx)."


def test_a_workbook_with_a_broken_sheet_is_refused(admin, tmp_path):
    good = write_xlsx(tmp_path / "good.xlsx", [["code"], ["SB00001"]])
    path = tmp_path / "bags.xlsx"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            target.writestr(item, b"<worksheet><sheetData><row" if item.filename.startswith("xl/worksheets/") else data)

    error, _ = refused(path)

    assert "could not be read" in error
    assert Bag.objects.count() == 0


def test_a_formula_cell_in_a_workbook_is_refused_with_its_row(admin, tmp_path):
    rows = [["parent", "child"], ["SB00001", "CH000001"], ["SB00001", "=B2"], ["SB00001", ArrayFormula("B4", "=B2")]]
    path = write_xlsx(tmp_path / "links.xlsx", rows)

    _, output = refused(path)

    assert "row 3: formula: The child cell holds a formula (=B2); put the value itself." in output
    assert "row 4: formula: The child cell holds a formula (=B2); put the value itself." in output
    assert Bag.objects.count() == 0


def test_a_code_in_a_number_true_false_or_date_cell_is_refused_not_changed(admin, tmp_path):
    # What Excel keeps of codes typed into cells not formatted as Text: 00012345 is the number 12345, a long
    # number keeps its first 16 digits or so, TRUE is a true/false cell, 1-5-26 a date.
    rows = [["parent", "child", "area"], ["SB00001", 12345, None], ["SB00001", 1234567890123456789.0, None]]
    rows += [["SB00001", True, None], [date(2026, 1, 5), "CH000001", None], ["SB00001", "CH000002", 1]]
    path = write_xlsx(tmp_path / "links.xlsx", rows)
    before = state()

    _, output = refused(path)

    fix = "format the column as Text in Excel and type the codes again."
    assert output.splitlines()[:5] == [
        f"row 2: number_cell: The child cell holds the number 12345 (Excel dropped any leading zeros); {fix}",
        f"row 3: number_cell: The child cell holds the number 1234567890123457024 (Excel dropped any leading "
        f"zeros); {fix}",
        f"row 4: boolean_cell: The child cell holds Excel's TRUE (a true/false cell), not text; {fix}",
        f"row 5: date_cell: The parent cell holds the date or time 2026-01-05, not text; {fix}",
        "row 6: unknown_area: There is no dispatch area '1'.",  # a number outside the code columns is read as text
    ]
    assert state() == before


def test_a_code_in_a_number_cell_of_a_bag_list_is_refused(admin, tmp_path):
    path = write_excel_xlsx(tmp_path / "bags.xlsx", [["code"], ["SB00001"], [12345678]])

    _, output = refused(path)

    assert output.splitlines()[0].startswith("row 3: number_cell: The code cell holds the number 12345678 ")
    assert Bag.objects.count() == 0


def test_digits_in_a_csv_are_codes_as_written(admin, tmp_path):
    # A CSV has no cell types: what it says is the code.
    path = write_csv(tmp_path / "links.csv", [["parent", "child"], ["SB00001", "00012345"]])

    run(path)

    assert list(Link.objects.values_list("parent__qr_id", "child__qr_id")) == [("SB00001", "00012345")]


def test_more_rows_than_the_cap_is_refused_before_reading(admin, tmp_path, settings):
    settings.IMPORT_MAX_ROWS = 1000
    path = write_csv(tmp_path / "links.csv", link_rows(40, 30))

    error, _ = refused(path)

    assert error == "The file holds about 1,200 rows; at most 1,000 are taken in one import. Split it."
    assert Bag.objects.count() == 0


def test_more_rows_than_the_cap_declared_by_a_workbook_is_refused_before_reading(admin, tmp_path, settings):
    settings.IMPORT_MAX_ROWS = 1000
    path = write_excel_xlsx(tmp_path / "links.xlsx", link_rows(40, 30))

    error, _ = refused(path)

    assert error == "The file holds about 1,200 rows; at most 1,000 are taken in one import. Split it."


def test_more_rows_than_the_cap_in_a_workbook_is_refused(admin, tmp_path, settings):
    settings.IMPORT_MAX_ROWS = 100
    path = write_xlsx(tmp_path / "links.xlsx", link_rows(4, 30))

    error, _ = refused(path)

    # Workbooks written by openpyxl declare no size, so the cap is met while reading.
    assert error == "The file holds more than 100 rows; split it."


# --- All or nothing -----------------------------------------------------------------------------------------

FAIL_ON_ROW_500 = """
CREATE FUNCTION test_fail_on_row_500() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT qr_id FROM bags_bag WHERE id = NEW.child_id) = 'CH000499' THEN
        RAISE EXCEPTION 'injected failure on the link of row 500';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER test_fail_on_row_500 BEFORE INSERT ON bags_link FOR EACH ROW EXECUTE FUNCTION test_fail_on_row_500();
"""


def test_a_database_error_half_way_leaves_the_database_as_it_was(admin, tmp_path):
    existing = factories.make_parent("SB00001")
    factories.link(existing, factories.make_child("OLD00001"))
    with connection.cursor() as cursor:
        cursor.execute(FAIL_ON_ROW_500)
    # Row 500 of the file (header = row 1) links CH000499; 499 links and 1,000 bags come before it.
    path = write_csv(tmp_path / "links.csv", link_rows(34, 29, parent_start=2))
    before = state()

    error, _ = refused(path)

    assert error.startswith("The database refused the import, so nothing was written: injected failure")
    assert state() == before


# --- A code in the wrong column -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parent", "child", "code", "sentence"),
    [
        ("SB00001", "SB00002", "parent_in_child_column", "child: 'SB00002' is a parent bag code, not a child."),
        ("SB00001", "M444-1234", "parent_in_child_column", "child: 'M444-1234' looks like a Moong parent code"),
        ("CH000001", "CH000002", "child_in_parent_column", "parent: 'CH000001' is a child bag code."),
        # A parent label misread (digits missing) is a bad parent format, not a child in the wrong place.
        ("SB1234", "CH000002", "bad_parent_format", "parent: 'SB1234' looks like a Mustard parent code"),
    ],
)
def test_a_code_in_the_wrong_column_is_named_for_its_column(admin, moong, tmp_path, parent, child, code, sentence):
    path = write_csv(tmp_path / "links.csv", [["parent", "child"], [parent, child]])

    _, output = refused(path)

    assert output.splitlines()[0].startswith(f"row 2: {code}: {sentence}")


# --- Two imports at once ------------------------------------------------------------------------------------

INSERT_CHILD_SQL = """
INSERT INTO bags_bag (qr_id, kind, created_at, updated_at) VALUES (%s, %s, now(), now())
"""
WAITING_SQL = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_loser_of_two_imports_creating_one_bag_is_told_which_code_and_to_run_again(admin, tmp_path):
    path = write_csv(tmp_path / "links.csv", link_rows(1, 20))
    with psycopg.connect(**connection.get_connection_params()) as other:
        # The other import's (or scan's) transaction: CH000012 inserted, not yet committed.
        other.execute(INSERT_CHILD_SQL, ["CH000012", BagKind.CHILD])
        with ThreadPoolExecutor(max_workers=1) as pool:
            ours = pool.submit(lambda: refused_in_thread(path))
            with psycopg.connect(**connection.get_connection_params(), autocommit=True) as watch:
                # Our import reaches CH000012 and waits on the other transaction's key; then that one commits.
                while watch.execute(WAITING_SQL).fetchone()[0] == 0:
                    assert not ours.done(), ours.result()
                    time.sleep(0.01)
            other.commit()
            message = ours.result(timeout=30)

    assert message == (
        "CH000012 was created by another import or scan while this one ran; nothing was written; run the import again."
    )
    assert list(Bag.objects.values_list("qr_id", flat=True)) == ["CH000012"]
    assert Link.objects.count() == 0


def refused_in_thread(path: Path) -> str:
    try:
        return refused(path)[0]
    finally:
        connection.close()
