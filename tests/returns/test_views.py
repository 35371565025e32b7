"""The return ticket pages: list and search, create, the ticket page (without JavaScript too), the return
note, the exports; query counts pinned."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from audit.choices import AuditAction
from audit.models import AuditLog
from bills.models import BillBag
from returns.models import ReturnTicket, ReturnTicketBag
from tests import factories
from tests.returns.conftest import scan

pytestmark = pytest.mark.django_db


def test_a_biller_makes_a_ticket_and_lands_on_it(biller_client):
    answer = biller_client.post(reverse("returns:create"), {"source": "Jaipur mandi", "notes": ""})

    ticket = ReturnTicket.objects.get()
    assert answer.status_code == 302 and answer["Location"] == reverse("returns:detail", args=[ticket.pk])
    page = biller_client.get(answer["Location"]).content.decode()
    assert f"Return ticket {ticket.number} created." in page
    assert 'id="ticket-scan-input"' in page and "return_scan.js" in page


def test_a_ticket_without_a_source_is_shown_again(biller_client):
    answer = biller_client.post(reverse("returns:create"), {"source": " "})
    assert answer.status_code == 400
    assert "Say where the bags came back from." in answer.content.decode()


def test_the_scan_form_works_without_javascript_and_a_second_post_changes_nothing(biller_client, dispatched, ticket):
    form = {"code": "SB00001", "client_scan_id": "page-scan-0001"}
    url = reverse("returns:parent-add", args=[ticket.pk])

    biller_client.post(url, form)
    again = biller_client.post(url, form, follow=True)

    assert ReturnTicketBag.objects.count() == 1
    assert "SB00001 (bill INV-7) added to" in again.content.decode()  # the first answer, again


def test_commit_and_cancel_from_the_page(biller_client, biller, dispatched, ticket):
    biller_client.post(
        reverse("returns:parent-add", args=[ticket.pk]), {"code": "SB00001", "client_scan_id": "page-scan-0001"}
    )

    page = biller_client.post(reverse("returns:commit", args=[ticket.pk]), follow=True).content.decode()

    assert f"Ticket {ticket.number} committed: 1 parent returned from bill INV-7." in page
    assert 'id="ticket-scan-input"' not in page  # nothing more goes on
    assert BillBag.objects.get(parent_bag__qr_id="SB00001").returned_on == ticket.number
    other = factories.make_return_ticket(biller)
    page = biller_client.post(reverse("returns:cancel", args=[other.pk]), follow=True).content.decode()
    assert "cancelled: nothing was returned" in page
    page = biller_client.post(reverse("returns:commit", args=[other.pk]), follow=True).content.decode()
    assert f"Ticket {other.number} is cancelled: it cannot change." in page


@pytest.mark.usefixtures("exception_count_kept")
def test_the_list_searches_and_sorts(biller_client, biller, dispatched, ticket, django_assert_num_queries):
    factories.make_return_ticket(biller, source="Kota depot")
    scan(biller, ticket, "SB00001")

    # Session, user, count, the page, the unread notifications, the session's idle time saved.
    with django_assert_num_queries(7):
        page = biller_client.get(reverse("returns:list"), {"q": "SB00001"}).content.decode()

    assert ticket.number in page and "Kota depot" not in page
    page = biller_client.get(reverse("returns:list"), {"sort": "-source"}).content.decode()
    assert page.index("Kota depot") < page.index("Jaipur mandi")


def test_the_ticket_page_costs_the_same_whatever_its_size(biller_client, biller, dispatched, ticket):
    url = reverse("returns:detail", args=[ticket.pk])
    scan(biller, ticket, "SB00001")
    biller_client.get(url)  # the session and the user are cached from here on

    counts = []
    for code in ("SB00002", None):
        with CaptureQueriesContext(connection) as queries:
            page = biller_client.get(url).content.decode()
        counts.append(len(queries))
        if code:
            scan(biller, ticket, code)

    assert counts == [3, 3]  # the ticket, its entries, their bags
    assert page.index('data-code="SB00002"') < page.index('data-code="SB00001"')  # last scanned first


def test_the_return_note_lists_the_parents_and_their_bills(biller_client, biller, dispatched, ticket):
    scan(biller, ticket, "SB00001")
    scan(biller, ticket, "SB00002")

    note = biller_client.get(reverse("returns:note", args=[ticket.pk])).content.decode()

    assert f"<h1>{ticket.number}</h1>" in note
    assert "DRAFT: not committed" in note
    assert '<td class="tt-code">SB00001</td>' in note and "<dd>INV-7</dd>" in note
    assert '<td class="tt-num" id="note-parents">2</td>' in note


def test_the_exports_hold_the_parents_and_are_audited(biller_client, biller, dispatched, ticket):
    scan(biller, ticket, "SB00001")

    response = biller_client.get(reverse("returns:export-csv", args=[ticket.pk]))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    book = load_workbook(
        io.BytesIO(b"".join(biller_client.get(reverse("returns:export-xlsx", args=[ticket.pk])).streaming_content))
    )

    assert f'filename="return-{ticket.number.lower()}.csv"' in response["Content-Disposition"]
    assert rows[0][:7] == ["ticket", "status", "came_back_from", "parent", "product", "children", "bill"]
    assert rows[1][:7] == [ticket.number, "draft", "Jaipur mandi", "SB00001", "Mustard", "3", "INV-7"]
    assert book.sheetnames == ["Ticket", "Parents"]
    assert list(book["Parents"].iter_rows(values_only=True))[1][:4] == ("SB00001", "Mustard", 3, "INV-7")
    formats = AuditLog.objects.filter(action=AuditAction.RETURNTICKET_EXPORT).values_list("after__format", flat=True)
    assert sorted(formats) == ["csv", "xlsx"]


def test_billers_see_returns_in_the_bar_and_dispatchers_do_not(biller_client, client, db):
    assert 'id="nav-returns"' in biller_client.get(reverse("home")).content.decode()
    dispatcher = factories.make_user("dispatcher1")
    client.force_login(dispatcher)
    assert 'id="nav-returns"' not in client.get(reverse("home")).content.decode()
    assert client.get(reverse("returns:list")).status_code == 403
