"""The bill pages over HTTP (Django test client): who may see them, search and sort, create and edit, the
bill page's totals and its no-JavaScript forms, finalise and reopen, the manifest, and query counts."""

from datetime import date

import pytest
from django.urls import reverse

from audit.choices import AuditAction
from audit.models import AuditLog
from bills import services
from bills.models import Bill, BillBag, BillStatus
from tests import factories
from tests.bills.data import big_bill, parent_with

PAGES = ["list", "create", "detail", "edit", "manifest", "export-csv", "export-xlsx"]
POSTS = ["finalise", "reopen", "parent-add", "parent-remove"]


def url(name: str, bill: Bill | None = None) -> str:
    return reverse(f"bills:{name}", args=[bill.pk] if bill and name not in ("list", "create") else [])


@pytest.fixture
def bill(biller):
    return factories.make_bill(biller, bill_number="INV-7", customer="Jaipur mandi", expected_parents=3)


def warm(client) -> None:
    """One request first: the session's first request writes its timestamps, as a real session's did long ago."""
    client.get(reverse("home"))


# --- Who may use the pages


@pytest.mark.parametrize("name", PAGES)
def test_dispatchers_get_403_on_every_bill_page(client, dispatcher, bill, name):
    client.force_login(dispatcher)

    assert client.get(url(name, bill)).status_code == 403


@pytest.mark.parametrize("name", POSTS)
def test_dispatchers_get_403_on_every_bill_action(client, dispatcher, bill, name):
    client.force_login(dispatcher)

    assert client.post(url(name, bill), {"code": "SB00001"}).status_code == 403
    assert Bill.objects.get().status == BillStatus.DRAFT


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_users_are_sent_to_log_in(client, bill, name):
    response = client.get(url(name, bill))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_admins_use_the_bill_pages(admin_client, bill):
    assert admin_client.get(url("detail", bill)).status_code == 200


# --- The list: search, sort, pages


@pytest.fixture
def bills(biller):
    made = [
        factories.make_bill(biller, bill_number="INV-1", customer="Jaipur mandi", bill_date=date(2026, 1, 5)),
        factories.make_bill(biller, bill_number="INV-2", customer="Kota depot", bill_date=date(2026, 2, 5)),
        factories.make_bill(biller, bill_number="JPR-3", customer="Ajmer", bill_date=date(2026, 3, 5)),
    ]
    factories.put_on_bill(made[2], parent_with(2))
    services.finalise_bill(user=biller, bill_id=made[2].pk)
    return made


def listed(response) -> list[str]:
    return [bill.bill_number for bill in response.context["page"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["JPR-3", "INV-2", "INV-1"]),
        ({"q": "inv"}, ["INV-2", "INV-1"]),
        ({"q": "kota"}, ["INV-2"]),
        ({"status": "finalised"}, ["JPR-3"]),
        ({"status": "draft", "date_from": "2026-01-06"}, ["INV-2"]),
        ({"date_to": "2026-02-05"}, ["INV-2", "INV-1"]),
        ({"sort": "bill_number"}, ["INV-1", "INV-2", "JPR-3"]),
        ({"sort": "-customer"}, ["INV-2", "INV-1", "JPR-3"]),
        ({"sort": "-parents"}, ["JPR-3", "INV-2", "INV-1"]),
        ({"date_from": "not a date", "sort": "drop table"}, ["JPR-3", "INV-2", "INV-1"]),
    ],
)
def test_the_list_searches_and_sorts(biller_client, bills, query, expected):
    response = biller_client.get(url("list"), query)

    assert response.status_code == 200
    assert listed(response) == expected


def test_the_list_pages_25_at_a_time_keeping_the_search(biller_client, biller):
    for n in range(30):
        factories.make_bill(biller, bill_number=f"INV-{n:02d}", customer="Kota")

    first = biller_client.get(url("list"), {"q": "kota", "sort": "bill_number"})
    second = biller_client.get(url("list"), {"q": "kota", "sort": "bill_number", "page": 2})

    assert len(listed(first)) == 25
    assert listed(second) == [f"INV-{n:02d}" for n in range(25, 30)]
    assert "q=kota&amp;sort=bill_number&amp;page=2" in first.content.decode()


def test_the_list_sort_links_turn_a_sorted_column_around(biller_client, bills):
    response = biller_client.get(url("list"), {"sort": "bill_number"})

    by_label = {column["label"]: column for column in response.context["columns"]}
    assert (by_label["Bill number"]["state"], by_label["Bill number"]["sort"]) == ("asc", "-bill_number")
    assert by_label["Customer"]["sort"] == "customer"


def test_the_list_costs_the_same_queries_for_3_or_25_bills(biller_client, biller, bills, django_assert_max_num_queries):
    warm(biller_client)
    for n in range(25):
        factories.put_on_bill(factories.make_bill(biller, bill_number=f"X-{n}"), factories.make_parent())

    # The user, the count, the page of bills (with product and parent counts).
    with django_assert_max_num_queries(3):
        response = biller_client.get(url("list"))

    assert len(listed(response)) == 25


# --- Create and edit


def test_a_new_bill_form_starts_with_the_first_active_product(biller_client):
    response = biller_client.get(url("create"))

    assert response.context["form"]["product"].value() == factories.product("mustard").pk


def test_creating_a_bill_shows_its_page(biller_client, biller, moong):
    response = biller_client.post(
        url("create"),
        {
            "bill_number": "INV-9",
            "customer": "Kota depot",
            "bill_date": "2026-11-23",
            "product": moong.pk,
            "expected_parents": 4,
            "notes": "",
        },
    )

    bill = Bill.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("detail", bill)
    assert (bill.bill_number, bill.product, bill.created_by) == ("INV-9", moong, biller)
    assert AuditLog.objects.filter(action=AuditAction.BILL_CREATE).count() == 1


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("bill_number", "inv-7", "Bill INV-7 already exists (bill numbers ignore case)."),
        ("expected_parents", "501", "Ensure this value is less than or equal to 500."),
        ("expected_parents", "0", "Ensure this value is greater than or equal to 1."),
        ("customer", "   ", "This field is required."),
    ],
)
def test_a_bill_form_refuses_in_words(biller_client, bill, field, value, error):
    data = {
        "bill_number": "INV-9",
        "customer": "Kota",
        "bill_date": "2026-11-23",
        "product": factories.product().pk,
        "expected_parents": 4,
    } | {field: value}

    response = biller_client.post(url("create"), data)

    assert response.status_code == 400
    assert error in response.context["form"].errors[field]
    assert Bill.objects.count() == 1


def test_editing_a_draft_saves_and_is_audited(biller_client, bill):
    response = biller_client.post(
        url("edit", bill),
        {
            "bill_number": "INV-7",
            "customer": "Kota",
            "bill_date": "2026-11-24",
            "product": bill.product_id,
            "expected_parents": 8,
            "notes": "n",
        },
    )

    bill.refresh_from_db()
    assert response.status_code == 302
    assert (bill.customer, bill.expected_parents) == ("Kota", 8)
    assert AuditLog.objects.get(action=AuditAction.BILL_CHANGE).before["customer"] == "Jaipur mandi"


def test_a_finalised_bill_cannot_be_edited(biller_client, biller, bill):
    factories.put_on_bill(bill, parent_with(1))
    services.finalise_bill(user=biller, bill_id=bill.pk)

    page = biller_client.get(url("edit", bill), follow=True)
    posted = biller_client.post(url("edit", bill), {"customer": "Changed"})

    assert "is finalised: it cannot change" in page.content.decode()
    assert posted.status_code == 302
    assert Bill.objects.get().customer == "Jaipur mandi"


# --- The bill page


def test_the_bill_page_shows_parents_and_totals_side_by_side(biller_client, biller, bill):
    for parent in (parent_with(30, "SB00001"), parent_with(10, "M444-00001", product_code="moong")):
        services.add_parent(user=biller, bill_id=bill.pk, raw_code=parent.qr_id)

    response = biller_client.get(url("detail", bill))

    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="total-actual">35<' in page  # weights as people write them; the API and exports keep 35.000
    assert 'id="total-expected">90<' in page
    assert 'id="total-difference">-55<' in page
    assert "tt-diff-loading" in page and "still to load" in page  # a draft being loaded: no alarm
    assert 'id="bill-scan-input"' in page
    assert page.index("M444-00001") < page.index("SB00001")  # last scanned first
    assert '<script type="module"' in page and "bill_scan.js" in page
    assert "csrftoken" in response.cookies


def test_a_finalised_bill_page_has_no_scan_box_and_no_remove_buttons(biller_client, biller, bill):
    factories.put_on_bill(bill, parent_with(3, "SB00001"))
    services.finalise_bill(user=biller, bill_id=bill.pk)

    page = biller_client.get(url("detail", bill)).content.decode()

    assert 'id="bill-scan-input"' not in page
    assert "tt-remove-form" not in page
    assert "Reopen" not in page  # billers do not reopen
    assert "counts and weights are frozen" in page


def test_an_unknown_bill_is_404(biller_client):
    assert biller_client.get(reverse("bills:detail", args=[10**9])).status_code == 404


def test_the_bill_page_of_50_parents_of_30_children_takes_at_most_4_queries(
    biller_client, biller, django_assert_max_num_queries
):
    bill = big_bill(biller, parents=50, children=30)
    warm(biller_client)

    with django_assert_max_num_queries(4) as captured:
        response = biller_client.get(url("detail", bill))

    assert response.status_code == 200
    assert response.context["bill"].child_count == 1500
    assert len(captured.captured_queries) == 1  # the bill view (the user is kept from warm())


def test_the_manifest_of_50_parents_takes_at_most_4_queries(biller_client, biller, django_assert_max_num_queries):
    bill = big_bill(biller, parents=50, children=30)
    warm(biller_client)

    with django_assert_max_num_queries(4):
        response = biller_client.get(url("manifest", bill))

    assert response.status_code == 200


# --- The scan box and remove buttons without JavaScript


def test_the_scan_form_adds_a_parent_without_javascript(biller_client, bill):
    parent_with(4, "SB12345")

    response = biller_client.post(url("parent-add", bill), {"code": "sb12345"}, follow=True)

    assert BillBag.objects.get().parent_bag.qr_id == "SB12345"
    assert "SB12345 added to INV-7: 1 of 3 parents." in response.content.decode()


def test_the_scan_form_says_why_it_refused(biller_client, bill):
    response = biller_client.post(url("parent-add", bill), {"code": "SB99999"}, follow=True)

    assert "Parent bag SB99999 was not found." in response.content.decode()
    assert not BillBag.objects.exists()


def test_the_remove_button_takes_a_parent_off(biller_client, biller, bill):
    parent_with(4, "SB12345")
    services.add_parent(user=biller, bill_id=bill.pk, raw_code="SB12345")

    response = biller_client.post(url("parent-remove", bill), {"code": "SB12345"})

    assert response.status_code == 302
    assert not BillBag.objects.exists()


# --- Finalise and reopen


def test_finalise_button_finalises(biller_client, biller, bill):
    factories.put_on_bill(bill, parent_with(3))

    response = biller_client.post(url("finalise", bill), follow=True)

    assert Bill.objects.get().status == BillStatus.FINALISED
    assert "Bill INV-7 finalised with 1 parent." in response.content.decode()


def test_billers_cannot_reopen(biller_client, biller, bill):
    factories.put_on_bill(bill, parent_with(3))
    services.finalise_bill(user=biller, bill_id=bill.pk)

    assert biller_client.post(url("reopen", bill)).status_code == 403
    assert Bill.objects.get().status == BillStatus.FINALISED


def test_admins_reopen_from_the_bill_page(admin_client, biller, bill):
    factories.put_on_bill(bill, parent_with(3))
    services.finalise_bill(user=biller, bill_id=bill.pk)

    page = admin_client.get(url("detail", bill)).content.decode()
    response = admin_client.post(url("reopen", bill))

    assert 'id="reopen-button"' in page
    assert response.status_code == 302
    assert Bill.objects.get().status == BillStatus.DRAFT
    assert AuditLog.objects.filter(action=AuditAction.BILL_REOPEN).count() == 1


# --- The manifest


def test_the_manifest_is_a_printable_page_in_two_columns_past_30_parents(biller_client, biller):
    bill = big_bill(biller, parents=60, children=2)

    response = biller_client.get(url("manifest", bill))

    page = response.content.decode()
    assert response.status_code == 200
    assert "css/manifest.css" in page
    assert [len(column) for column in response.context["columns"]] == [30, 30]
    assert 'id="draft-mark"' in page
    assert "120" in page  # children
    assert "Received by" in page


def test_a_manifest_of_a_finalised_bill_has_no_draft_mark(biller_client, biller, bill):
    factories.put_on_bill(bill, parent_with(3))
    services.finalise_bill(user=biller, bill_id=bill.pk)

    page = biller_client.get(url("manifest", bill)).content.decode()

    assert 'id="draft-mark"' not in page
    assert "Finalised" in page
