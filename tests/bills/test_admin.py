"""The bill admin: parents added by autocomplete with the biller's refusals, every change audited,
a finalised bill frozen."""

from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from audit.choices import AuditAction
from audit.models import AuditLog
from bills.models import Bill, BillBag, BillStatus
from tests import factories


@pytest.fixture
def bill(db):
    biller = factories.make_user("biller1", role=Role.BILLER)
    bill = factories.make_bill(biller, bill_number="INV-7", expected_parents=5)
    factories.put_on_bill(bill, factories.make_parent("SB00001"))
    factories.put_on_bill(bill, factories.make_parent("SB00002"))
    return bill


def _value(bound_field) -> Any:
    value = bound_field.value()
    if value is True:
        return "on"
    return value


def _page_data(response) -> dict[str, Any]:
    """What the browser would post back from an admin add/change page, as rendered."""
    data: dict[str, Any] = {}
    form = response.context["adminform"].form
    for name in form.fields:
        value = _value(form[name])
        if value not in (None, False):
            data[form.add_prefix(name)] = value
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name in formset.management_form.fields:
            data[formset.management_form.add_prefix(name)] = formset.management_form[name].value()
        for row in formset.forms:
            for name in row.fields:
                value = _value(row[name])
                if value not in (None, False):
                    data[row.add_prefix(name)] = value
    return data


def _change_url(bill: Bill) -> str:
    return reverse("admin:bills_bill_change", args=[bill.pk])


def _add_row_prefix(response) -> str:
    """The prefix of the empty "add parent bags" row (the second inline on the page)."""
    formsets = [inline.formset for inline in response.context["inline_admin_formsets"]]
    return formsets[1].forms[0].prefix


def test_adding_a_bill_records_its_creator_and_is_audited(admin_client, admin_user):
    page = admin_client.get(reverse("admin:bills_bill_add"))
    data = _page_data(page) | {"bill_number": "INV-100", "customer": "Jaipur mandi", "expected_parents": 30}

    response = admin_client.post(reverse("admin:bills_bill_add"), data)

    assert response.status_code == 302
    bill = Bill.objects.get(bill_number="INV-100")
    assert bill.created_by == admin_user
    assert AuditLog.objects.get(action=AuditAction.BILL_CREATE).after["customer"] == "Jaipur mandi"


def test_bill_numbers_that_differ_only_in_case_are_refused_in_words(admin_client, bill):
    page = admin_client.get(reverse("admin:bills_bill_add"))
    data = _page_data(page) | {"bill_number": "inv-7", "customer": "Someone", "expected_parents": 3}

    response = admin_client.post(reverse("admin:bills_bill_add"), data)

    assert response.context["adminform"].form.errors["bill_number"] == [
        "Bill INV-7 already exists (bill numbers ignore case)."
    ]


def test_a_parent_added_on_the_bill_page_is_recorded_with_who_added_it(admin_client, admin_user, bill):
    parent = factories.make_parent("SB00003")
    page = admin_client.get(_change_url(bill))
    data = _page_data(page) | {f"{_add_row_prefix(page)}-parent_bag": parent.pk}

    response = admin_client.post(_change_url(bill), data)

    assert response.status_code == 302
    entry = BillBag.objects.get(parent_bag=parent)
    assert (entry.bill, entry.added_by) == (bill, admin_user)
    audit = AuditLog.objects.get(action=AuditAction.BILLBAG_CREATE)
    assert audit.object_repr == "SB00003 on INV-7"
    assert audit.after["parent_bag"] == parent.pk


def test_a_child_bag_is_refused_on_a_bill(admin_client, bill):
    child = factories.make_child("C0000001")
    page = admin_client.get(_change_url(bill))
    data = _page_data(page) | {f"{_add_row_prefix(page)}-parent_bag": child.pk}

    response = admin_client.post(_change_url(bill), data)

    assert response.status_code == 200
    added = response.context["inline_admin_formsets"][1].formset
    assert added.errors[0]["parent_bag"] == ["C0000001 is a child bag; only parent bags go on a bill."]
    assert not BillBag.objects.filter(parent_bag=child).exists()


def test_a_parent_on_another_bill_is_refused_naming_that_bill(admin_client, bill):
    other = factories.make_bill(bill.created_by, bill_number="INV-8")
    taken = bill.bill_bags.get(parent_bag__qr_id="SB00001").parent_bag

    response = admin_client.post(reverse("admin:bills_billbag_add"), {"bill": other.pk, "parent_bag": taken.pk})

    assert response.context["adminform"].form.errors["parent_bag"] == ["SB00001 is already on bill INV-7."]


def test_taking_a_parent_off_a_bill_is_audited_with_a_before_snapshot(admin_client, bill):
    page = admin_client.get(_change_url(bill))
    on_bill = page.context["inline_admin_formsets"][0].formset
    row = next(form for form in on_bill.forms if form.instance.parent_bag.qr_id == "SB00002")
    data = _page_data(page) | {row.add_prefix("DELETE"): "on"}

    response = admin_client.post(_change_url(bill), data)

    assert response.status_code == 302
    assert list(bill.bill_bags.values_list("parent_bag__qr_id", flat=True)) == ["SB00001"]
    entry = AuditLog.objects.get(action=AuditAction.BILLBAG_DELETE)
    assert entry.before["parent_bag"] == row.instance.parent_bag_id
    assert entry.after is None


def test_a_finalised_bill_is_view_only(admin_client, bill):
    Bill.objects.filter(pk=bill.pk).update(
        status=BillStatus.FINALISED, finalised_at=timezone.now(), frozen_full_parent_weight_kg=30
    )

    page = admin_client.get(_change_url(bill))
    changed = admin_client.post(_change_url(bill), {"customer": "Changed"})
    deleted = admin_client.post(reverse("admin:bills_bill_delete", args=[bill.pk]), {"post": "yes"})

    assert page.status_code == 200
    assert 'name="customer"' not in page.content.decode()
    assert (changed.status_code, deleted.status_code) == (403, 403)
    bill.refresh_from_db()
    assert bill.customer == "Test customer"
    assert bill.bill_bags.count() == 2


def test_deleting_a_bill_remembers_the_parents_it_held(admin_client, bill):
    response = admin_client.post(reverse("admin:bills_bill_delete", args=[bill.pk]), {"post": "yes"})

    assert response.status_code == 302
    entry = AuditLog.objects.get(action=AuditAction.BILL_DELETE)
    assert entry.before["bill_number"] == "INV-7"
    assert entry.before["parent_bags"] == ["SB00001", "SB00002"]


def test_the_bill_list_shows_how_many_parents_each_bill_holds(admin_client, bill):
    response = admin_client.get(reverse("admin:bills_bill_changelist"))

    assert [(row.bill_number, row.parent_count) for row in response.context["cl"].result_list] == [("INV-7", 2)]


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("SB00002", {"SB00002"}),
        ("sb0000", {"SB00001", "SB00002"}),
        ("inv-7", {"SB00001", "SB00002"}),
        ("SB7", set()),
        ("SB9", {"SB90001"}),
    ],
)
def test_bill_bags_are_found_by_parent_code_or_bill_number(admin_client, bill, term, expected):
    other_bill = factories.make_bill(bill.created_by, bill_number="INV-8")
    factories.put_on_bill(other_bill, factories.make_parent("SB90001"))

    response = admin_client.get(reverse("admin:bills_billbag_changelist"), {"q": term})

    assert response.status_code == 200
    found = {entry.parent_bag.qr_id for entry in response.context["cl"].result_list}
    assert found == expected
