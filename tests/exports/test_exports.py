"""The export page and downloads: content and formula escaping in CSV and Excel, filters, audit, who may
export what, and memory that stays bounded however many rows stream out."""

import csv
import io
import tracemalloc
import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.signals import request_finished
from django.db import close_old_connections, connection
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from accounts.models import Role
from audit.choices import AuditAction
from audit.models import AuditLog
from audit.services import record
from exports.tables import TABLES
from imports.seeding import seed_bulk
from scanning import services
from scanning.models import Scan, ScanAction
from tests import factories
from traitortrack import spreadsheets

pytestmark = pytest.mark.django_db


@pytest.fixture
def biller(db):
    return factories.make_user("biller1", role=Role.BILLER)


@pytest.fixture
def biller_client(biller):
    client = Client()  # its own: admin_client has the default one
    client.force_login(biller)
    return client


def csv_of(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def xlsx_of(response) -> dict[str, list[tuple]]:
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    return {name: list(book[name].iter_rows(values_only=True)) for name in book.sheetnames}


def test_billers_reach_the_exports_from_their_pages(biller_client):
    link = f'href="{reverse("exports:index")}"'

    assert link in biller_client.get(reverse("home")).content.decode()
    assert link in biller_client.get(reverse("bills:list")).content.decode()


def test_a_dispatcher_may_export_nothing(area):
    dispatcher = Client()
    dispatcher.force_login(factories.make_user("dispatcher1", area=area))

    assert f'href="{reverse("exports:index")}"' not in dispatcher.get(reverse("home")).content.decode()
    for name in ("index", "bags", "links", "scans", "bills", "audit"):
        assert dispatcher.get(reverse(f"exports:{name}")).status_code == 403
    assert not AuditLog.objects.filter(action__endswith=".export").exists()


def test_the_page_offers_every_table_to_admins_and_all_but_the_audit_log_to_billers(biller_client, admin_client):
    biller_page = biller_client.get(reverse("exports:index")).content.decode()
    admin_page = admin_client.get(reverse("exports:index")).content.decode()

    for name in ("bags", "links", "scans", "bills"):
        assert f'id="export-{name}"' in biller_page
    assert 'id="export-audit"' not in biller_page
    assert 'id="export-audit"' in admin_page


@pytest.mark.usefixtures("exception_count_kept")
def test_the_page_takes_a_fixed_number_of_queries(biller_client, django_assert_num_queries):
    for n in range(5):
        factories.make_area(f"Yard {n}")

    # The session, the user, the unread notifications, the session's refresh, then the products and the areas
    # for each form that offers them: the same however many areas there are.
    with django_assert_num_queries(10):
        biller_client.get(reverse("exports:index"))


def test_bags_export_as_csv_with_filters_and_is_audited(biller_client, biller, area):
    factories.make_parent("SB00001", dispatch_area=area)
    factories.make_child("CH000001", dispatch_area=area)
    factories.make_child("CH000002")

    response = biller_client.get(reverse("exports:bags"), {"bags-file_format": "csv", "bags-area": area.pk})

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="bags-')
    rows = csv_of(response)
    assert rows[0] == ["code", "kind", "product", "area", "children", "completed_at", "created_at", "created_by"]
    assert [row[:5] for row in rows[1:]] == [
        ["SB00001", "parent", "mustard", area.code, "0"],
        ["CH000001", "child", "", area.code, "0"],
    ]
    entry = AuditLog.objects.get(action=AuditAction.TABLE_EXPORT)
    assert entry.actor == biller
    assert entry.after == {"table": "bags", "format": "csv", "filters": {"area": area.code}}


def test_a_child_scanned_into_another_areas_parent_exports_under_that_area(biller_client, area, mustard):
    first_seen = factories.make_area("Godown 2")
    factories.make_child("CH000001", dispatch_area=first_seen)
    factories.make_parent("SB00001", dispatch_area=area)
    services.scan_child(
        user=factories.make_user(area=area), parent_code="SB00001", raw_code="CH000001", client_scan_id=uuid.uuid4().hex
    )

    def exported(where) -> list[str]:
        response = biller_client.get(reverse("exports:bags"), {"bags-file_format": "csv", "bags-area": where.pk})
        return sorted(row[0] for row in csv_of(response)[1:])

    assert exported(area) == ["CH000001", "SB00001"]
    assert exported(first_seen) == []


def test_links_export_as_excel(biller_client):
    factories.link(factories.make_parent("SB00001"), factories.make_child("CH000001"))

    sheets = xlsx_of(biller_client.get(reverse("exports:links"), {"links-file_format": "xlsx"}))

    assert list(sheets) == ["Links"]
    assert [row[:3] for row in sheets["Links"]] == [("parent", "child", "product"), ("SB00001", "CH000001", "mustard")]


def test_scans_export_takes_a_date_range(biller_client, biller, area, clock):
    parent = factories.make_parent("SB00001")
    now = clock.now
    for days_ago in (0, 3, 10):
        Scan.objects.create(
            user=biller,
            action=ScanAction.OPEN_PARENT,
            bag=parent,
            bag_qr="SB00001",
            created_at=now - timedelta(days_ago),
        )
    today = now.date()

    rows = csv_of(
        biller_client.get(
            reverse("exports:scans"),
            {"scans-file_format": "csv", "scans-date_from": today - timedelta(5), "scans-date_to": today},
        )
    )

    assert len(rows) == 3  # the header and the scans of today and 3 days ago


def test_a_date_range_backwards_is_refused_with_the_page(biller_client):
    response = biller_client.get(
        reverse("exports:scans"),
        {"scans-file_format": "csv", "scans-date_from": "2026-11-20", "scans-date_to": "2026-11-01"},
    )

    assert response.status_code == 400
    assert "The &#x27;from&#x27; date is after the &#x27;to&#x27; date." in response.content.decode()
    assert not AuditLog.objects.filter(action=AuditAction.TABLE_EXPORT).exists()


OUT_OF_RANGE = "Pick a date between 2000-01-01 and 2099-12-31."


@pytest.mark.parametrize("table", ["scans", "bags", "links"])
@pytest.mark.parametrize(
    ("end", "day", "message"),
    [
        ("date_to", "9999-12-31", OUT_OF_RANGE),
        ("date_from", "9999-12-31", OUT_OF_RANGE),
        ("date_from", "0001-01-01", OUT_OF_RANGE),
        ("date_to", "99999-01-01", "Enter a valid date."),
    ],
    ids=["to-9999-12-31", "from-9999-12-31", "from-0001-01-01", "to-99999-01-01"],
)
def test_a_date_past_the_sane_years_is_refused_with_the_page(biller_client, table, end, day, message):
    response = biller_client.get(reverse(f"exports:{table}"), {f"{table}-file_format": "csv", f"{table}-{end}": day})

    assert response.status_code == 400
    assert message in response.content.decode()


def test_text_a_spreadsheet_would_run_is_escaped_in_csv_and_excel(biller_client, biller):
    factories.make_bill(biller, bill_number="=CMD()", customer="+91 cmd", notes="@SUM(A1)")

    rows = csv_of(biller_client.get(reverse("exports:bills"), {"bills-file_format": "csv"}))
    sheets = xlsx_of(biller_client.get(reverse("exports:bills"), {"bills-file_format": "xlsx"}))

    assert rows[1][:2] == ["'=CMD()", "'+91 cmd"]
    assert rows[1][7] == "'@SUM(A1)"
    assert sheets["Bills"][1][:2] == ("'=CMD()", "'+91 cmd")


def test_the_audit_log_exports_for_admins_only(biller_client, admin_client, admin_user):
    record(actor=admin_user, action=AuditAction.BILL_CHANGE, after={"note": "=danger"})

    assert biller_client.get(reverse("exports:audit"), {"audit-file_format": "csv"}).status_code == 403
    rows = csv_of(
        admin_client.get(
            reverse("exports:audit"), {"audit-file_format": "csv", "audit-action": AuditAction.BILL_CHANGE}
        )
    )

    assert len(rows) == 2
    assert rows[1][2] == "bill.change"
    assert rows[1][7] == '{"note": "=danger"}'


def test_a_long_table_goes_on_into_further_sheets(monkeypatch):
    monkeypatch.setattr(spreadsheets, "XLSX_SHEET_ROWS", 3)
    target = io.BytesIO()

    target.write(
        b"".join(spreadsheets.xlsx_chunks([spreadsheets.Sheet("Bags", ["code"], ([f"C{n}"] for n in range(5)))]))
    )

    book = load_workbook(target)
    assert book.sheetnames == ["Bags", "Bags (2)", "Bags (3)"]
    assert [list(book[name].values) for name in book.sheetnames] == [
        [("code",), ("C0",), ("C1",)],
        [("code",), ("C2",), ("C3",)],
        [("code",), ("C4",)],
    ]


# --- Pieces and turns: few socket writes, and the worker's other greenlets (the scans) keep running -----------


def csv_a_line_at_a_time(table, queryset) -> bytes:
    """The table as the CSV writer wrote it when each line was a piece of its own."""
    out = io.StringIO()
    writer = csv.writer(out)
    out.write("\ufeff")
    writer.writerow(table.header)
    for row in table.rows(queryset):
        writer.writerow([spreadsheets.csv_value(value) for value in row])
    return out.getvalue().encode()


def test_a_csv_download_goes_out_in_pieces_of_the_chunk_size_not_a_line_each(biller_client):
    seed_bulk(bags=5_000, seed=1)
    table = TABLES["bags"]

    response = biller_client.get(reverse("exports:bags"), {"bags-file_format": "csv"})
    pieces = list(response.streaming_content)

    content = b"".join(pieces)
    assert content == csv_a_line_at_a_time(table, table.queryset())
    longest_line = max(len(line) for line in content.splitlines(keepends=True))
    assert len(pieces) <= len(content) // spreadsheets.CSV_CHUNK_BYTES + 1 < 5_000 // 100
    # Each piece but the last is the chunk size, overrun by the line that reached it; the last is what is left.
    chunk = spreadsheets.CSV_CHUNK_BYTES
    assert all(chunk <= len(piece) < chunk + longest_line for piece in pieces[:-1]), [len(p) for p in pieces]
    assert 0 < len(pieces[-1]) < chunk + longest_line


@pytest.mark.parametrize("write", [spreadsheets.csv_chunks, lambda sheet: spreadsheets.xlsx_chunks([sheet])])
def test_the_writers_give_the_other_greenlets_turns_as_they_work(monkeypatch, write):
    # Under gevent, a time.sleep is the switch to the other greenlets: counted here, outside gevent.
    # With no time between turns, one is due before every row.
    turns = []
    monkeypatch.setattr(spreadsheets.time, "sleep", turns.append)
    monkeypatch.setattr(spreadsheets, "TURN_EVERY_SECONDS", 0)

    b"".join(write(spreadsheets.Sheet("Bags", ["code"], ([f"C{n}"] for n in range(2_500)))))

    assert turns == [spreadsheets.TURN_SECONDS] * 2_500


# --- At most EXPORT_MAX_RUNNING at once: each holds a pooled connection while it downloads -------------------


def broken_off(response) -> None:
    """Close a download unread, as the server does when its client goes away (without the end of request
    closing the test's database connection, as Django's test client does too)."""
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def test_an_export_past_the_most_at_once_is_refused_until_one_ends(biller_client, settings):
    settings.EXPORT_MAX_RUNNING = 2
    factories.make_parent("SB00001")
    bags = reverse("exports:bags")
    downloads = [biller_client.get(bags, {"bags-file_format": "csv"}) for _ in range(2)]

    busy = biller_client.get(bags, {"bags-file_format": "csv"})

    assert busy.status_code == 503 and busy["Retry-After"] == "60"
    assert "2 exports are being downloaded right now, the most at once; try again in a minute." in busy.content.decode()
    assert AuditLog.objects.filter(action=AuditAction.TABLE_EXPORT).count() == 2

    assert len(csv_of(downloads[0])) == 2  # a download read to its end gives its place back
    assert list(xlsx_of(biller_client.get(bags, {"bags-file_format": "xlsx"}))) == ["Bags"]
    broken_off(downloads[1])  # so does one the client broke off
    assert biller_client.get(bags, {"bags-file_format": "csv"}).status_code == 200


def test_the_admin_export_button_says_when_too_many_exports_run(admin_client, settings):
    settings.EXPORT_MAX_RUNNING = 0
    url = reverse("admin:bags_bag_export")

    page = admin_client.post(url, {"format": "0", "resource": "0"}, follow=True)

    assert page.redirect_chain[-1][0] == url
    assert "0 exports are being downloaded right now" in page.content.decode()
    assert not AuditLog.objects.filter(action=AuditAction.TABLE_EXPORT).exists()


# --- Memory: the rows stream, they are never all held -------------------------------------------------------
# Each export runs over SMALL bags and again once the table has grown to LARGE. A writer that kept the table
# (its rows, its text or its compressed bytes) would need at least the extra output's size for the extra rows;
# a streaming one reaches the same peak whatever the length. SMALL is past the fixed buffers (two cursor
# chunks, a batch of XML rows, a few chunks of zip), so from there on the peak grows only if something keeps
# the rows.

SMALL, LARGE = 5_000, 15_000


@pytest.fixture
def small_zip_chunks(monkeypatch):
    # The workbook goes out in chunks of XLSX_CHUNK_BYTES; at the real size a table needs tens of thousands
    # of rows before the chunks stop adding to the peak, and tracing that many rows is slow. The size of a
    # chunk is what it is either way; whether anything grows with the rows is what is measured here.
    monkeypatch.setattr(spreadsheets, "XLSX_CHUNK_BYTES", 32 * 1024)


def peak_while(consume: Callable[[], int]) -> tuple[int, int]:
    """(peak traced bytes while ``consume`` ran, what it returned)."""
    tracemalloc.start()
    try:
        produced = consume()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, produced


def peaks_as_the_table_grows(export: Callable[[], int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """((peak, bytes out) of ``export`` over SMALL bags, the same over LARGE bags). An unmeasured run first,
    so what a process sets up once and keeps (compiled queries, caches) is counted in neither."""
    seed_bulk(bags=SMALL, seed=1)
    connection.ensure_connection()
    export()
    small = peak_while(export)
    seed_bulk(bags=LARGE - SMALL, seed=2)
    return small, peak_while(export)


def assert_bounded(small: tuple[int, int], large: tuple[int, int], *, bytes_a_row: int) -> None:
    (small_peak, small_size), (large_peak, large_size) = small, large
    extra_rows, extra_bytes = LARGE - SMALL, large_size - small_size
    assert extra_bytes > bytes_a_row * extra_rows, f"{small_size:,} then {large_size:,} bytes out"  # not vacuous
    # Keeping the extra rows costs at least the bytes they are written as; a quarter of that is room for noise.
    growth = large_peak - small_peak
    assert growth < extra_bytes // 4, (
        f"peak {small_peak:,} bytes for {SMALL:,} rows and {large_peak:,} for {LARGE:,}: "
        f"{growth:,} more for {extra_bytes:,} more bytes out"
    )
    assert large_peak < 2_500_000, f"peak {large_peak:,} bytes for {large_size:,} bytes out"


def written_to(path: Path, chunks: Iterable[bytes | str]) -> int:
    """Write the chunks to a file as they come (so the test holds none of them): the bytes written."""
    with path.open("wb") as file:
        return sum(file.write(chunk.encode() if isinstance(chunk, str) else chunk) for chunk in chunks)


def assert_whole_bags_csv(path: Path, rows: int) -> None:
    lines = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert lines[0] == TABLES["bags"].header
    assert len(lines) == rows + 1


def assert_whole_bags_workbook(path: Path, rows: int) -> None:
    """The workbook reads back with openpyxl: a sheet of the header and every row."""
    book = load_workbook(path, read_only=True)
    assert book.sheetnames == ["Bags"]
    sheet = book["Bags"]
    seen = 0
    for seen, row in enumerate(sheet.iter_rows(values_only=True), start=1):
        if seen == 1:
            assert list(row) == TABLES["bags"].header
    book.close()
    assert seen == rows + 1


def test_a_csv_export_streams_in_memory_that_does_not_grow_with_the_rows(db, tmp_path):
    table = TABLES["bags"]
    out = tmp_path / "bags.csv"

    small, large = peaks_as_the_table_grows(
        lambda: written_to(out, spreadsheets.csv_chunks(table.sheet(table.queryset())))
    )

    assert_bounded(small, large, bytes_a_row=40)
    assert_whole_bags_csv(out, LARGE)


def test_an_excel_export_is_written_in_memory_that_does_not_grow_with_the_rows(db, tmp_path, small_zip_chunks):
    table = TABLES["bags"]
    out = tmp_path / "bags.xlsx"

    small, large = peaks_as_the_table_grows(
        lambda: written_to(out, spreadsheets.xlsx_chunks([table.sheet(table.queryset())]))
    )

    assert_bounded(small, large, bytes_a_row=15)
    assert_whole_bags_workbook(out, LARGE)


@pytest.mark.parametrize("where", ["export page, CSV", "admin button, Excel"])
def test_a_download_streams_in_memory_that_does_not_grow_with_the_rows(
    biller_client, admin_client, tmp_path, small_zip_chunks, where
):
    out = tmp_path / ("bags.csv" if where == "export page, CSV" else "bags.xlsx")

    def download() -> int:
        if where == "export page, CSV":
            response = biller_client.get(reverse("exports:bags"), {"bags-file_format": "csv"})
        else:
            response = admin_client.post(reverse("admin:bags_bag_export"), {"format": "1", "resource": "0"})
        assert response.streaming
        return written_to(out, response.streaming_content)

    small, large = peaks_as_the_table_grows(download)

    if where == "export page, CSV":
        assert_bounded(small, large, bytes_a_row=40)
        assert_whole_bags_csv(out, LARGE)
    else:
        assert_bounded(small, large, bytes_a_row=15)
        assert_whole_bags_workbook(out, LARGE)
