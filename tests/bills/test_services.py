"""The biller's loop, service by service: each refusal in words, weights over two products, finalising
freezes a bill, reopening is for admins, and every change leaves an audit entry with before and after."""

from datetime import date
from decimal import Decimal

import pytest

from audit.choices import AuditAction
from audit.models import AuditLog
from bags.managers import forget_parent_formats
from bags.models import Bag, BagKind, Product
from bills import services
from bills.models import Bill, BillBag, BillStatus
from bills.services import BillRefused
from tests import factories
from tests.bills.data import fill, parent_with


def new_bill(user, **fields) -> Bill:
    arguments = {
        "bill_number": "INV-7",
        "customer": "Jaipur mandi",
        "bill_date": date(2026, 11, 23),
        "product": factories.product(),
        "expected_parents": 3,
        "notes": "",
    } | fields
    return services.create_bill(user=user, **arguments).bill


def refusal(call, **arguments) -> BillRefused:
    with pytest.raises(BillRefused) as refused:
        call(**arguments)
    return refused.value


@pytest.fixture
def bill(biller):
    return new_bill(biller)


# --- Creating and editing a bill


def test_a_new_bill_is_a_draft_and_its_creation_is_audited(biller):
    bill = new_bill(biller, bill_number="  INV-9 ", customer=" Jaipur ")

    assert (bill.bill_number, bill.customer, bill.status, bill.created_by) == ("INV-9", "Jaipur", "draft", biller)
    entry = AuditLog.objects.get(action=AuditAction.BILL_CREATE)
    assert (entry.object_id, entry.before, entry.after["bill_number"]) == (str(bill.pk), None, "INV-9")


def test_a_bill_number_taken_in_another_case_is_refused_naming_the_bill(biller, bill):
    refused = refusal(new_bill, user=biller, bill_number="inv-7")

    assert (refused.code, refused.message) == (
        "bill_number_taken",
        "Bill INV-7 already exists (bill numbers ignore case).",
    )
    assert Bill.objects.count() == 1


def test_a_bill_for_a_product_taken_out_of_use_is_refused(biller, moong):
    Product.objects.filter(pk=moong.pk).update(is_active=False)
    moong.refresh_from_db()

    assert refusal(new_bill, user=biller, product=moong).code == "product_inactive"


def test_dispatchers_cannot_work_on_bills(dispatcher, bill):
    assert refusal(new_bill, user=dispatcher, bill_number="INV-8").status == 403
    assert refusal(services.add_parent, user=dispatcher, bill_id=bill.pk, raw_code="SB00001").code == "forbidden"


def test_editing_a_draft_is_audited_with_before_and_after(biller, bill, moong):
    change = services.update_bill(
        user=biller,
        bill_id=bill.pk,
        bill_number="INV-7A",
        customer="Kota",
        bill_date=bill.bill_date,
        product=moong,
        expected_parents=5,
        notes="Second truck",
    )

    bill.refresh_from_db()
    assert (change.code, bill.bill_number, bill.product, bill.expected_parents) == ("changed", "INV-7A", moong, 5)
    entry = AuditLog.objects.get(action=AuditAction.BILL_CHANGE)
    assert (entry.before["customer"], entry.after["customer"]) == ("Jaipur mandi", "Kota")
    assert (entry.before["product"], entry.after["product"]) == (factories.product().pk, moong.pk)


def test_saving_an_unchanged_bill_writes_no_audit_entry(biller, bill):
    fields = {name: getattr(bill, name) for name in ("bill_number", "customer", "bill_date", "product", "notes")}

    change = services.update_bill(user=biller, bill_id=bill.pk, expected_parents=bill.expected_parents, **fields)

    assert change.code == "unchanged"
    assert not AuditLog.objects.filter(action=AuditAction.BILL_CHANGE).exists()


def test_lowering_expected_parents_below_those_on_the_bill_is_allowed_with_a_warning(biller, bill):
    for _ in range(3):
        services.add_parent(user=biller, bill_id=bill.pk, raw_code=parent_with(1).qr_id)
    fields = {name: getattr(bill, name) for name in ("bill_number", "customer", "bill_date", "product", "notes")}

    change = services.update_bill(user=biller, bill_id=bill.pk, expected_parents=2, **fields)

    assert change.warning == "It already holds 3 parents, more than the 2 now expected."


# --- Putting parents on a bill: each refusal in words


def test_a_parent_goes_on_a_bill_and_it_is_audited(biller, bill):
    parent = parent_with(12, "SB12345")

    change = services.add_parent(user=biller, bill_id=bill.pk, raw_code=" sb12345 ")

    assert (change.code, change.message, change.warning) == (
        "parent_added",
        "SB12345 added to INV-7: 1 of 3 parents.",
        None,
    )
    entry = BillBag.objects.get()
    assert (entry.bill, entry.parent_bag, entry.added_by) == (bill, parent, biller)
    audit = AuditLog.objects.get(action=AuditAction.BILL_PARENT_ADD)
    assert audit.before == {"parent_bag": "SB12345", "bill": None, "parent_count": 0}
    assert audit.after == {"parent_bag": "SB12345", "bill": "INV-7", "parent_count": 1}


def test_a_child_code_is_refused_as_not_a_parent_code(biller, bill):
    factories.make_child("C0000001")

    refused = refusal(services.add_parent, user=biller, bill_id=bill.pk, raw_code="C0000001")

    assert (refused.code, refused.status) == ("not_a_parent_code", 422)
    assert "C0000001" in refused.message
    assert "child bag code" in refused.message


@pytest.mark.parametrize(("raw", "code"), [("", "empty"), ("x", "too_short"), ("SB 123", "bad_characters")])
def test_a_code_no_bag_can_have_is_refused_with_its_reason(biller, bill, raw, code):
    assert refusal(services.add_parent, user=biller, bill_id=bill.pk, raw_code=raw).code == code


def test_an_unknown_parent_is_refused(biller, bill):
    refused = refusal(services.add_parent, user=biller, bill_id=bill.pk, raw_code="SB99999")

    assert (refused.code, refused.status) == ("unknown_parent", 404)
    assert refused.message == "Parent bag SB99999 was not found. It must be scanned on the scan page first."


def test_a_parent_on_another_bill_is_refused_naming_that_bill(biller, bill):
    parent_with(3, "SB12345")
    other = new_bill(biller, bill_number="INV-8")
    services.add_parent(user=biller, bill_id=bill.pk, raw_code="SB12345")

    refused = refusal(services.add_parent, user=biller, bill_id=other.pk, raw_code="SB12345")

    assert (refused.code, refused.message) == ("already_on_bill", "SB12345 is already on bill INV-7.")
    assert BillBag.objects.get().bill == bill


def test_a_parent_already_on_this_bill_is_refused_as_harmless(biller, bill):
    parent_with(3, "SB12345")
    services.add_parent(user=biller, bill_id=bill.pk, raw_code="SB12345")

    refused = refusal(services.add_parent, user=biller, bill_id=bill.pk, raw_code="sb12345")

    assert (refused.code, refused.message) == (
        "already_on_this_bill",
        "SB12345 is already on this bill. Nothing changed.",
    )
    assert BillBag.objects.count() == 1


def test_a_parent_code_that_is_a_child_bag_in_the_database_is_refused(biller, bill):
    # A product added later whose parent format covers an existing child's code.
    factories.make_child("CH12345")
    Product.objects.create(code="chana", name="Chana", parent_prefix="CH", parent_digits=5)
    forget_parent_formats()

    assert refusal(services.add_parent, user=biller, bill_id=bill.pk, raw_code="CH12345").code == "not_a_parent_code"
    forget_parent_formats()


def test_more_parents_than_expected_are_taken_with_a_warning(biller):
    bill = new_bill(biller, expected_parents=1)
    services.add_parent(user=biller, bill_id=bill.pk, raw_code=parent_with(3).qr_id)

    change = services.add_parent(user=biller, bill_id=bill.pk, raw_code=parent_with(3, "SB22222").qr_id)

    assert change.code == "parent_added"
    assert change.warning == "That is more than the 1 expected."


def test_an_empty_parent_is_taken_with_a_warning(biller, bill):
    factories.make_parent("SB12345")

    change = services.add_parent(user=biller, bill_id=bill.pk, raw_code="SB12345")

    assert change.warning == "SB12345 holds no children."


def test_a_bill_of_500_parents_takes_no_more(biller):
    bill = new_bill(biller, expected_parents=500)
    parents = Bag.objects.bulk_create(
        [Bag(qr_id=f"SB{n:05d}", kind=BagKind.PARENT, product=factories.product()) for n in range(1, 502)]
    )
    BillBag.objects.bulk_create([BillBag(bill=bill, parent_bag=parent) for parent in parents[:500]])

    refused = refusal(services.add_parent, user=biller, bill_id=bill.pk, raw_code=parents[500].qr_id)

    assert refused.code == "bill_full"
    assert BillBag.objects.filter(bill=bill).count() == 500


def test_an_unknown_bill_is_refused(biller):
    assert refusal(services.add_parent, user=biller, bill_id=10**9, raw_code="SB00001").code == "unknown_bill"


# --- Taking parents off


def test_a_parent_is_taken_off_a_draft_and_it_is_audited(biller, bill):
    parent_with(3, "SB12345")
    services.add_parent(user=biller, bill_id=bill.pk, raw_code="SB12345")

    change = services.remove_parent(user=biller, bill_id=bill.pk, raw_code="SB12345")

    assert (change.code, change.message) == ("parent_removed", "SB12345 taken off INV-7: 0 parents left.")
    assert not BillBag.objects.exists()
    audit = AuditLog.objects.get(action=AuditAction.BILL_PARENT_REMOVE)
    assert (audit.before["bill"], audit.after["bill"]) == ("INV-7", None)


def test_taking_off_a_parent_not_on_the_bill_is_refused(biller, bill):
    parent_with(3, "SB12345")

    refused = refusal(services.remove_parent, user=biller, bill_id=bill.pk, raw_code="SB12345")

    assert (refused.code, refused.message) == ("not_on_this_bill", "SB12345 is not on bill INV-7.")


# --- Weights: computed, per parent from its own product


def test_weights_over_two_products_with_different_child_weights(biller):
    bill = new_bill(biller, expected_parents=3)  # mustard: 30 x 1.000 kg = 30 kg per full parent
    mustard_parent = parent_with(30, "SB00001")
    moong_parent = parent_with(10, "M444-00001", product_code="moong")  # 0.500 kg per child
    for parent in (mustard_parent, moong_parent):
        services.add_parent(user=biller, bill_id=bill.pk, raw_code=parent.qr_id)

    view = Bill.objects.bill_view(bill.pk)

    assert [(p.qr_id, p.child_count, p.weight_kg) for p in view.parents] == [
        ("SB00001", 30, Decimal("30.000")),
        ("M444-00001", 10, Decimal("5.000")),
    ]
    assert view.actual_weight_kg == Decimal("35.000")
    assert view.expected_weight_kg == Decimal("90.000")
    assert view.difference_kg == Decimal("-55.000")
    assert view.weight_state == "short"


def test_the_expected_weight_follows_the_bills_product(biller, moong):
    bill = new_bill(biller, product=moong, expected_parents=2)  # moong: 30 x 0.500 kg = 15 kg

    view = Bill.objects.bill_view(bill.pk)

    assert (view.full_parent_weight_kg, view.expected_weight_kg) == (Decimal("15.000"), Decimal("30.000"))


# --- Finalising freezes; reopening is an admin's


def test_finalising_snapshots_each_parent_and_the_weight_rule(biller, bill):
    parent = parent_with(4, "SB12345")
    services.add_parent(user=biller, bill_id=bill.pk, raw_code="SB12345")

    change = services.finalise_bill(user=biller, bill_id=bill.pk)

    bill.refresh_from_db()
    assert (change.code, bill.status, bill.finalised_by) == ("finalised", BillStatus.FINALISED, biller)
    assert bill.frozen_full_parent_weight_kg == Decimal("30.000")
    entry = BillBag.objects.get()
    codes = list(parent.child_links.order_by("created_at", "pk").values_list("child__qr_id", flat=True))
    assert (entry.frozen_child_count, entry.frozen_capacity, entry.frozen_child_weight_kg) == (4, 30, Decimal("1.000"))
    assert entry.frozen_child_codes == codes
    assert change.warning == "It holds 1 parent; 3 were expected."
    audit = AuditLog.objects.get(action=AuditAction.BILL_FINALISE)
    assert (audit.before["status"], audit.after["status"]) == ("draft", "finalised")


def test_a_finalised_bill_is_not_changed_by_later_scans_or_product_changes(biller, bill):
    parent = parent_with(4, "SB12345")
    services.add_parent(user=biller, bill_id=bill.pk, raw_code="SB12345")
    services.finalise_bill(user=biller, bill_id=bill.pk)

    fill(parent, 5, prefix="LATE")
    Product.objects.filter(code="mustard").update(child_weight_kg=Decimal("2.000"), capacity=40)
    view = Bill.objects.bill_view(bill.pk, with_children=True)

    (shown,) = view.parents
    assert (shown.child_count, shown.capacity, shown.weight_kg) == (4, 30, Decimal("4.000"))
    assert len(shown.child_codes) == 4
    assert not any(code.startswith("LATE") for code in shown.child_codes)
    assert view.expected_weight_kg == Decimal("90.000")


@pytest.mark.parametrize(
    ("service", "arguments"),
    [
        (services.add_parent, {"raw_code": "SB22222"}),
        (services.remove_parent, {"raw_code": "SB12345"}),
        (
            services.update_bill,
            {"bill_number": "INV-7", "customer": "Other", "bill_date": date(2026, 1, 1), "expected_parents": 3},
        ),
    ],
)
def test_a_finalised_bill_refuses_changes(biller, bill, service, arguments):
    parent_with(4, "SB12345")
    parent_with(4, "SB22222")
    services.add_parent(user=biller, bill_id=bill.pk, raw_code="SB12345")
    services.finalise_bill(user=biller, bill_id=bill.pk)
    if service is services.update_bill:
        arguments = {**arguments, "product": factories.product()}

    refused = refusal(service, user=biller, bill_id=bill.pk, **arguments)

    assert (refused.code, refused.message) == (
        "bill_finalised",
        "Bill INV-7 is finalised: it cannot change. An admin can reopen it.",
    )
    assert list(BillBag.objects.values_list("parent_bag__qr_id", flat=True)) == ["SB12345"]
    assert Bill.objects.get().customer == "Jaipur mandi"


def test_an_empty_bill_cannot_be_finalised(biller, bill):
    assert refusal(services.finalise_bill, user=biller, bill_id=bill.pk).code == "bill_empty"
    bill.refresh_from_db()
    assert bill.status == BillStatus.DRAFT


def test_finalising_twice_is_refused(biller, bill):
    services.add_parent(user=biller, bill_id=bill.pk, raw_code=parent_with(1).qr_id)
    services.finalise_bill(user=biller, bill_id=bill.pk)

    assert refusal(services.finalise_bill, user=biller, bill_id=bill.pk).code == "already_finalised"


def test_only_an_admin_reopens_and_the_bill_shows_its_parents_as_they_are_now(biller, admin_user, bill):
    parent = parent_with(4, "SB12345")
    services.add_parent(user=biller, bill_id=bill.pk, raw_code="SB12345")
    services.finalise_bill(user=biller, bill_id=bill.pk)
    fill(parent, 2, prefix="LATE")

    refused = refusal(services.reopen_bill, user=biller, bill_id=bill.pk)
    change = services.reopen_bill(user=admin_user, bill_id=bill.pk)

    assert (refused.code, refused.status) == ("admin_only", 403)
    bill.refresh_from_db()
    assert (change.code, bill.status, bill.finalised_at, bill.frozen_full_parent_weight_kg) == (
        "reopened",
        BillStatus.DRAFT,
        None,
        None,
    )
    assert BillBag.objects.get().frozen_child_count is None
    assert Bill.objects.bill_view(bill.pk).parents[0].child_count == 6
    audit = AuditLog.objects.get(action=AuditAction.BILL_REOPEN)
    assert audit.actor == admin_user
    assert audit.before["status"] == "finalised"
    assert audit.before["parents"] == [
        {
            "parent_bag__qr_id": "SB12345",
            "frozen_child_count": 4,
            "frozen_capacity": 30,
            "frozen_child_weight_kg": "1.000",
        }
    ]
    assert audit.after["status"] == "draft"


def test_reopening_a_draft_is_refused(admin_user, bill):
    assert refusal(services.reopen_bill, user=admin_user, bill_id=bill.pk).code == "not_finalised"


def test_admins_work_on_bills_too(admin_user):
    assert new_bill(admin_user, bill_number="ADM-1").created_by == admin_user
