"""A finalised bill after a return: its snapshot, in every form it is read (the API, the CSV, the workbook,
the manifest), byte for byte what it was, but for the returned parent's mark."""

import io
import json

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from bills.models import BillBag
from returns import services
from tests.bills.data import fill
from tests.returns.conftest import scan

pytestmark = pytest.mark.django_db


def _readings(client, bill) -> dict[str, bytes]:
    return {
        "api": client.get(f"/api/bills/{bill.pk}?children=1").content,
        "csv": b"".join(client.get(reverse("bills:export-csv", args=[bill.pk])).streaming_content),
        "manifest": client.get(reverse("bills:manifest", args=[bill.pk])).content,
        "xlsx": b"".join(client.get(reverse("bills:export-xlsx", args=[bill.pk])).streaming_content),
    }


def _sheets(xlsx: bytes) -> dict[str, list[tuple]]:
    book = load_workbook(io.BytesIO(xlsx))
    return {name: list(book[name].iter_rows(values_only=True)) for name in book.sheetnames}


def test_a_return_changes_the_bills_snapshot_only_by_the_mark(biller_client, biller, dispatched, ticket, clock):
    before = _readings(biller_client, dispatched)
    scan(biller, ticket, "SB00001")
    services.commit_ticket(user=biller, ticket_id=ticket.pk)
    returned = BillBag.objects.get(parent_bag__qr_id="SB00001")
    # The parent lives on after its return: more children, none of it the bill's business.
    fill(returned.parent_bag, 4, prefix="LATE")
    mark, when = ticket.number, returned.returned_at.isoformat()

    after = _readings(biller_client, dispatched)

    api_before, api_after = json.loads(before["api"]), json.loads(after["api"])
    first = api_after["bill"]["parents"][0]
    assert (first["qr_id"], first["returned_on"], first["returned_at"]) == ("SB00001", mark, when)
    first.update(returned_on=None, returned_at=None)
    assert api_after == api_before

    csv_before, csv_after = before["csv"].decode().splitlines(), after["csv"].decode().splitlines()
    assert [line for line in csv_after if line.startswith("INV-7,SB00001,")] == [
        f"{line}{mark}" for line in csv_before if line.startswith("INV-7,SB00001,")
    ]
    assert [line for line in csv_after if not line.startswith("INV-7,SB00001,")] == [
        line for line in csv_before if not line.startswith("INV-7,SB00001,")
    ]

    marked = f'<td class="tt-code">SB00001 <span class="tt-returned">(returned on {mark})</span></td>'.encode()
    assert marked in after["manifest"]
    assert after["manifest"].replace(marked, b'<td class="tt-code">SB00001</td>') == before["manifest"]

    sheets_before, sheets_after = _sheets(before["xlsx"]), _sheets(after["xlsx"])
    assert sheets_after["Parents"][1][-1] == mark
    sheets_after["Parents"][1] = (*sheets_after["Parents"][1][:-1], None)
    assert sheets_after == sheets_before


def test_the_bill_page_marks_the_returned_parent(biller_client, biller, dispatched, ticket):
    scan(biller, ticket, "SB00001")
    services.commit_ticket(user=biller, ticket_id=ticket.pk)

    page = biller_client.get(reverse("bills:detail", args=[dispatched.pk])).content.decode()

    assert f"returned on {ticket.number}</span>" in page
    assert "1 parent came back on return tickets" in page
    assert 'id="total-children">5<' in page  # the totals are the snapshot's
