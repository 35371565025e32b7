"""A bill's parents and children as CSV and Excel: streamed, formula-escaped, audited, and a finalised
bill exported from its snapshot."""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from audit.choices import AuditAction
from audit.models import AuditLog
from bills import services
from tests import factories
from tests.bills.data import fill, parent_with
from traitortrack.spreadsheets import safe_cell


@pytest.fixture
def bill(biller):
    bill = factories.make_bill(biller, bill_number="INV-7", customer='=HYPERLINK("http://evil")', expected_parents=3)
    mustard_parent = factories.make_parent("SB00001")
    fill(mustard_parent, 2, prefix="SBC")
    factories.make_parent("SB00002")  # no children
    moong_parent = factories.make_parent("M444-00001", product_code="moong")
    fill(moong_parent, 3, prefix="MGC")
    for parent in ("SB00001", "SB00002", "M444-00001"):
        services.add_parent(user=biller, bill_id=bill.pk, raw_code=parent)
    return bill


def csv_of(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+91 98", "'+91 98"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("SB12345", "SB12345"),
        (Decimal("-2.000"), Decimal("-2.000")),
        (3, 3),
    ],
)
def test_text_a_spreadsheet_would_run_gets_an_apostrophe(value, expected):
    assert safe_cell(value) == expected


def test_csv_has_a_row_per_child_and_streams(biller_client, bill):
    response = biller_client.get(reverse("bills:export-csv", args=[bill.pk]))

    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="bill-inv-7.csv"'
    rows = csv_of(response)
    assert rows[0] == ["bill", "parent", "product", "parent_children", "parent_weight_kg", "child", "returned_on"]
    assert rows[1:] == [
        ["INV-7", "SB00001", "Mustard", "2", "2.000", "SBC0001", ""],
        ["INV-7", "SB00001", "Mustard", "2", "2.000", "SBC0002", ""],
        ["INV-7", "SB00002", "Mustard", "0", "0.000", "", ""],
        ["INV-7", "M444-00001", "Moong", "3", "1.500", "MGC0001", ""],
        ["INV-7", "M444-00001", "Moong", "3", "1.500", "MGC0002", ""],
        ["INV-7", "M444-00001", "Moong", "3", "1.500", "MGC0003", ""],
    ]


def test_csv_escapes_a_bill_number_a_spreadsheet_would_run(biller_client, biller):
    bill = factories.make_bill(biller, bill_number="=CMD()")
    factories.put_on_bill(bill, parent_with(1, "SB00009"))

    rows = csv_of(biller_client.get(reverse("bills:export-csv", args=[bill.pk])))

    assert rows[1][0] == "'=CMD()"


def test_excel_has_the_bill_its_parents_and_their_children(biller_client, bill):
    response = biller_client.get(reverse("bills:export-xlsx", args=[bill.pk]))

    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert 'filename="bill-inv-7.xlsx"' in response["Content-Disposition"]
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert book.sheetnames == ["Bill", "Parents", "Children"]
    facts = dict(book["Bill"].iter_rows(values_only=True))
    assert facts["Customer / destination"] == '\'=HYPERLINK("http://evil")'
    assert (facts["Actual weight (kg)"], facts["Expected weight (kg)"], facts["Difference (kg)"]) == (3.5, 90, -86.5)
    parents = list(book["Parents"].iter_rows(values_only=True))
    assert [row[:5] for row in parents] == [
        ("Parent", "Product", "Children", "Capacity", "Weight (kg)"),
        ("SB00001", "Mustard", 2, 30, 2),
        ("SB00002", "Mustard", 0, 30, 0),
        ("M444-00001", "Moong", 3, 30, 1.5),
        ("Total", None, 5, None, 3.5),
    ]
    children = list(book["Children"].iter_rows(values_only=True))
    assert children[1:] == [
        ("SB00001", "SBC0001"),
        ("SB00001", "SBC0002"),
        ("M444-00001", "MGC0001"),
        ("M444-00001", "MGC0002"),
        ("M444-00001", "MGC0003"),
    ]


def test_a_finalised_bill_exports_its_snapshot(biller_client, biller, bill):
    services.finalise_bill(user=biller, bill_id=bill.pk)
    fill(factories.product().bags.get(qr_id="SB00002"), 4, prefix="LATE")

    rows = csv_of(biller_client.get(reverse("bills:export-csv", args=[bill.pk])))

    assert ["INV-7", "SB00002", "Mustard", "0", "0.000", "", ""] in rows
    assert not any(row[5].startswith("LATE") for row in rows)


def test_a_finalised_bill_exports_as_xlsx_in_local_time(biller_client, biller, bill, monkeypatch, settings):
    settings.TIME_ZONE = "Asia/Kolkata"
    with monkeypatch.context() as frozen:
        frozen.setattr(timezone, "now", lambda: datetime(2026, 3, 1, 20, 15, tzinfo=UTC))
        services.finalise_bill(user=biller, bill_id=bill.pk)

    response = biller_client.get(reverse("bills:export-xlsx", args=[bill.pk]))

    facts = dict(load_workbook(io.BytesIO(b"".join(response.streaming_content)))["Bill"].iter_rows(values_only=True))
    assert facts["Finalised at"] == datetime(2026, 3, 2, 1, 45)  # 05:30 ahead: the next day


def test_exports_are_audited(biller_client, biller, bill):
    b"".join(biller_client.get(reverse("bills:export-csv", args=[bill.pk])).streaming_content)
    b"".join(biller_client.get(reverse("bills:export-xlsx", args=[bill.pk])).streaming_content)

    entries = AuditLog.objects.filter(action=AuditAction.BILL_EXPORT).order_by("pk")
    assert [(entry.actor, entry.object_id, entry.after["format"]) for entry in entries] == [
        (biller, str(bill.pk), "csv"),
        (biller, str(bill.pk), "xlsx"),
    ]
