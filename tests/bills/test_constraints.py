"""The database itself holds the bill rules: writes go around the ORM's Python checks (raw SQL, bulk_create,
update) and PostgreSQL must refuse them by the intended constraint, writing nothing."""

import pytest
from django.db import connection
from django.db.models import ProtectedError
from django.utils import timezone

from bags.models import Bag, BagKind
from bills.models import Bill, BillBag, BillStatus
from tests import factories
from tests.db import MISSING_BAG_ID, delete_bag, refused_by

INSERT_BILL_BAG = "INSERT INTO bills_billbag (bill_id, parent_bag_id, added_at) VALUES (%s, %s, now()) RETURNING id"
INSERT_BILL_BAG_WITH_KIND = """
INSERT INTO bills_billbag (bill_id, parent_bag_id, parent_kind, added_at) VALUES (%s, %s, %s, now())
"""


def insert_bill_bag(bill_id: int, bag_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(INSERT_BILL_BAG, [bill_id, bag_id])
        return cursor.fetchone()[0]


def unsaved_bill(created_by, **fields) -> Bill:
    return Bill(
        bill_number=fields.pop("bill_number", "INV-1"),
        customer="Test customer",
        product=factories.product(),
        expected_parents=fields.pop("expected_parents", 10),
        created_by=created_by,
        **fields,
    )


# --- Bill bags: a parent on at most one bill, and only parents.


def test_parent_on_a_bill_is_accepted_by_raw_sql(biller, mustard):
    bill, parent = factories.make_bill(biller), factories.make_parent()

    bill_bag_id = insert_bill_bag(bill.pk, parent.pk)

    assert BillBag.objects.get(pk=bill_bag_id).parent_kind == BagKind.PARENT


def test_parent_on_two_bills_is_refused_by_database(biller, mustard):
    first, second = factories.make_bill(biller), factories.make_bill(biller)
    parent = factories.make_parent()
    factories.put_on_bill(first, parent)

    with refused_by("billbag_parent_on_one_bill", BillBag):
        insert_bill_bag(second.pk, parent.pk)

    assert BillBag.objects.get(parent_bag=parent).bill == first


def test_parent_twice_on_the_same_bill_is_refused_by_database(biller, mustard):
    bill, parent = factories.make_bill(biller), factories.make_parent()

    with refused_by("billbag_parent_on_one_bill", BillBag):
        BillBag.objects.bulk_create([BillBag(bill=bill, parent_bag=parent), BillBag(bill=bill, parent_bag=parent)])


def test_child_on_a_bill_is_refused_by_database(biller):
    bill, child = factories.make_bill(biller), factories.make_child()

    with refused_by("billbag_parent_is_parent_bag", BillBag):
        insert_bill_bag(bill.pk, child.pk)


def test_forged_parent_kind_on_a_bill_bag_is_refused_by_database(biller):
    bill, child = factories.make_bill(biller), factories.make_child()

    with refused_by("billbag_parent_kind_is_parent", BillBag), connection.cursor() as cursor:
        cursor.execute(INSERT_BILL_BAG_WITH_KIND, [bill.pk, child.pk, BagKind.CHILD])


def test_missing_bag_on_a_bill_is_refused_by_database(biller):
    bill = factories.make_bill(biller)

    with refused_by("billbag_parent_is_parent_bag", BillBag):
        insert_bill_bag(bill.pk, MISSING_BAG_ID)


def test_turning_a_billed_parent_into_a_child_is_refused_by_database(biller, mustard):
    bill, parent = factories.make_bill(biller), factories.make_parent("SB12345")
    factories.put_on_bill(bill, parent)

    with refused_by("billbag_parent_is_parent_bag"):
        Bag.objects.filter(pk=parent.pk).update(kind=BagKind.CHILD)

    parent.refresh_from_db()
    assert parent.kind == BagKind.PARENT


def test_deleting_a_billed_parent_is_refused_by_the_orm(biller, mustard):
    bill, parent = factories.make_bill(biller), factories.make_parent()
    factories.put_on_bill(bill, parent)

    with pytest.raises(ProtectedError):
        parent.delete()

    assert BillBag.objects.filter(bill=bill, parent_bag=parent).exists()


def test_deleting_a_billed_parent_is_refused_by_database(biller, mustard):
    bill, parent = factories.make_bill(biller), factories.make_parent()
    factories.put_on_bill(bill, parent)

    with refused_by("billbag_parent_is_parent_bag", Bag, BillBag):
        delete_bag(parent.pk)


# --- Bills: numbers unique in any case, 1 to 500 expected parents, finalised means a time.


def test_duplicate_bill_number_is_refused_by_database(biller):
    factories.make_bill(biller, bill_number="INV-7")

    with refused_by("bill_number_unique_ci", Bill):
        Bill.objects.bulk_create([unsaved_bill(biller, bill_number="INV-7")])


@pytest.mark.parametrize("bill_number", ["inv-7", "Inv-7", "iNV-7"])
def test_bill_number_duplicate_in_other_case_is_refused_by_database(biller, bill_number):
    factories.make_bill(biller, bill_number="INV-7")

    with refused_by("bill_number_unique_ci", Bill):
        Bill.objects.bulk_create([unsaved_bill(biller, bill_number=bill_number)])

    assert list(Bill.objects.values_list("bill_number", flat=True)) == ["INV-7"]


def test_renaming_a_bill_to_another_bills_number_in_other_case_is_refused_by_database(biller):
    factories.make_bill(biller, bill_number="INV-7")
    other = factories.make_bill(biller, bill_number="INV-8")

    with refused_by("bill_number_unique_ci"):
        Bill.objects.filter(pk=other.pk).update(bill_number="inv-7")

    other.refresh_from_db()
    assert other.bill_number == "INV-8"


def test_empty_bill_number_is_refused_by_database(biller):
    with refused_by("bill_number_not_empty", Bill):
        Bill.objects.bulk_create([unsaved_bill(biller, bill_number="")])


@pytest.mark.parametrize("expected_parents", [0, 501])
def test_expected_parents_outside_1_to_500_is_refused_by_database(biller, expected_parents):
    with refused_by("bill_expected_parents_range", Bill):
        Bill.objects.bulk_create([unsaved_bill(biller, expected_parents=expected_parents)])


@pytest.mark.parametrize("expected_parents", [1, 500])
def test_expected_parents_at_the_limits_is_accepted(biller, expected_parents):
    Bill.objects.bulk_create([unsaved_bill(biller, expected_parents=expected_parents)])

    assert Bill.objects.get().expected_parents == expected_parents


def test_unknown_bill_status_is_refused_by_database(biller):
    with refused_by("bill_status_valid", Bill):
        # finalised_at set, so that only the status itself is wrong.
        Bill.objects.bulk_create([unsaved_bill(biller, status="paid", finalised_at=timezone.now())])


def test_finalised_bill_without_finalised_at_is_refused_by_database(biller):
    with refused_by("bill_finalised_has_time", Bill):
        Bill.objects.bulk_create([unsaved_bill(biller, status=BillStatus.FINALISED, frozen_full_parent_weight_kg=30)])


def test_finalising_a_bill_without_a_time_is_refused_by_database(biller):
    bill = factories.make_bill(biller)

    with refused_by("bill_finalised_has_time"):
        Bill.objects.filter(pk=bill.pk).update(status=BillStatus.FINALISED, frozen_full_parent_weight_kg=30)

    bill.refresh_from_db()
    assert bill.status == BillStatus.DRAFT


def test_finalised_bill_with_a_time_and_snapshot_is_accepted(biller):
    Bill.objects.bulk_create(
        [
            unsaved_bill(
                biller, status=BillStatus.FINALISED, finalised_at=timezone.now(), frozen_full_parent_weight_kg=30
            )
        ]
    )

    assert Bill.objects.get().status == BillStatus.FINALISED


# --- The finalise snapshot: a finalised bill has its weight rule, a draft has none; a parent's is whole.


def test_finalised_bill_without_its_weight_rule_is_refused_by_database(biller):
    with refused_by("bill_snapshot_when_finalised", Bill):
        Bill.objects.bulk_create([unsaved_bill(biller, status=BillStatus.FINALISED, finalised_at=timezone.now())])


def test_draft_bill_with_a_frozen_weight_rule_is_refused_by_database(biller):
    with refused_by("bill_snapshot_when_finalised", Bill):
        Bill.objects.bulk_create([unsaved_bill(biller, frozen_full_parent_weight_kg=30)])


def test_half_a_parent_snapshot_is_refused_by_database(biller, mustard):
    entry = factories.put_on_bill(factories.make_bill(biller), factories.make_parent())

    with refused_by("billbag_snapshot_whole_or_none"):
        BillBag.objects.filter(pk=entry.pk).update(frozen_child_count=3, frozen_capacity=30)
