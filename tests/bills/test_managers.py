"""The bill view's raw SQL against the plain ORM on the same data: drafts and finalised bills, two products,
with and without child codes; and it is one query whatever the bill's size."""

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from bags.models import Link, Product
from bills import services
from bills.models import Bill, BillBag, BillStatus
from tests import factories
from tests.bills.data import big_bill, fill, parent_with


def orm_view(bill_id: int, *, with_children: bool) -> dict[str, Any]:
    """The bill view, the slow obvious way: the ORM, a query per parent, the weight rules written out."""
    bill = Bill.objects.select_related("product", "created_by", "finalised_by").get(pk=bill_id)
    finalised = bill.status == BillStatus.FINALISED
    parents = []
    entries = BillBag.objects.filter(bill=bill).select_related("parent_bag__product", "added_by")
    for entry in entries.order_by("added_at", "pk"):
        bag = entry.parent_bag
        if finalised:
            count, capacity, child_weight = (
                entry.frozen_child_count,
                entry.frozen_capacity,
                entry.frozen_child_weight_kg,
            )
            codes = entry.frozen_child_codes
        else:
            count, capacity, child_weight = bag.child_count, bag.product.capacity, bag.product.child_weight_kg
            links = Link.objects.filter(parent=bag).order_by("created_at", "pk")
            codes = list(links.values_list("child__qr_id", flat=True))
        parents.append(
            {
                "qr_id": bag.qr_id,
                "product": bag.product.name,
                "child_count": count,
                "capacity": capacity,
                "child_weight_kg": child_weight,
                "weight_kg": count * child_weight,
                "added_at": entry.added_at,
                "added_by": entry.added_by.username if entry.added_by else None,
                "child_codes": tuple(codes) if with_children else None,
            }
        )
    full = bill.frozen_full_parent_weight_kg if finalised else bill.product.capacity * bill.product.child_weight_kg
    actual = sum((parent["weight_kg"] for parent in parents), Decimal(0))
    return {
        "id": bill.pk,
        "bill_number": bill.bill_number,
        "customer": bill.customer,
        "bill_date": bill.bill_date,
        "status": bill.status,
        "expected_parents": bill.expected_parents,
        "notes": bill.notes,
        "product_id": bill.product_id,
        "product": bill.product.name,
        "full_parent_weight_kg": full,
        "created_by": bill.created_by.username,
        "created_at": bill.created_at,
        "updated_at": bill.updated_at,
        "finalised_at": bill.finalised_at,
        "finalised_by": bill.finalised_by.username if bill.finalised_by else None,
        "parents": parents,
        "parent_count": len(parents),
        "child_count": sum(parent["child_count"] for parent in parents),
        "actual_weight_kg": actual,
        "expected_weight_kg": bill.expected_parents * full,
        "difference_kg": actual - bill.expected_parents * full,
    }


def sql_view(bill_id: int, *, with_children: bool) -> dict[str, Any]:
    view = Bill.objects.bill_view(bill_id, with_children=with_children)
    parent_fields = ["qr_id", "product", "child_count", "capacity", "child_weight_kg", "added_at", "added_by"]
    return {
        "id": view.id,
        "bill_number": view.bill_number,
        "customer": view.customer,
        "bill_date": view.bill_date,
        "status": view.status,
        "expected_parents": view.expected_parents,
        "notes": view.notes,
        "product_id": view.product_id,
        "product": view.product,
        "full_parent_weight_kg": view.full_parent_weight_kg,
        "created_by": view.created_by,
        "created_at": view.created_at,
        "updated_at": view.updated_at,
        "finalised_at": view.finalised_at,
        "finalised_by": view.finalised_by,
        "parents": [
            {
                **{name: getattr(parent, name) for name in parent_fields},
                "weight_kg": parent.weight_kg,
                "child_codes": parent.child_codes,
            }
            for parent in view.parents
        ],
        "parent_count": view.parent_count,
        "child_count": view.child_count,
        "actual_weight_kg": view.actual_weight_kg,
        "expected_weight_kg": view.expected_weight_kg,
        "difference_kg": view.difference_kg,
    }


@pytest.fixture
def mixed_bill(biller, admin_user):
    """A draft of four parents over two products: full, part-filled, empty, and one added by an admin."""
    bill = factories.make_bill(biller, bill_number="INV-7", expected_parents=5, notes="Two trucks")
    parents = [
        (parent_with(30, "SB00001"), biller),
        (parent_with(7, "M444-00001", product_code="moong"), biller),
        (factories.make_parent("SB00002"), biller),
        (parent_with(12, "M444-00002", product_code="moong"), admin_user),
    ]
    for parent, user in parents:
        services.add_parent(user=user, bill_id=bill.pk, raw_code=parent.qr_id)
    factories.make_bill(biller, bill_number="INV-8")  # another bill, with a parent of its own
    factories.put_on_bill(Bill.objects.get(bill_number="INV-8"), parent_with(3, "SB00003"))
    return bill


@pytest.mark.parametrize("with_children", [False, True])
def test_draft_bill_view_matches_the_orm(mixed_bill, with_children):
    assert sql_view(mixed_bill.pk, with_children=with_children) == orm_view(mixed_bill.pk, with_children=with_children)


@pytest.mark.parametrize("with_children", [False, True])
def test_finalised_bill_view_matches_the_orm_and_ignores_later_changes(mixed_bill, biller, with_children):
    services.finalise_bill(user=biller, bill_id=mixed_bill.pk)
    fill(factories.product("moong").bags.get(qr_id="M444-00001"), 3, prefix="LATE")
    Product.objects.filter(code="mustard").update(child_weight_kg=Decimal("1.250"))

    sql = sql_view(mixed_bill.pk, with_children=with_children)

    assert sql == orm_view(mixed_bill.pk, with_children=with_children)
    assert sql["parents"][1]["child_count"] == 7
    assert sql["full_parent_weight_kg"] == Decimal("30.000")


def test_the_numbers_of_the_mixed_bill(mixed_bill):
    view = Bill.objects.bill_view(mixed_bill.pk)

    assert [(p.qr_id, p.weight_kg) for p in view.parents] == [
        ("SB00001", Decimal("30.000")),
        ("M444-00001", Decimal("3.500")),
        ("SB00002", Decimal("0.000")),
        ("M444-00002", Decimal("6.000")),
    ]
    assert (view.child_count, view.actual_weight_kg, view.expected_weight_kg) == (
        49,
        Decimal("39.500"),
        Decimal("150.000"),
    )
    assert [p.added_by for p in view.parents] == ["biller1", "biller1", "biller1", "admin1"]


def test_an_empty_bill_has_no_parents_and_weighs_nothing(biller):
    bill = factories.make_bill(biller, expected_parents=2)

    view = Bill.objects.bill_view(bill.pk, with_children=True)

    assert (view.parents, view.actual_weight_kg, view.expected_weight_kg) == ((), Decimal("0.000"), Decimal("60.000"))
    assert sql_view(bill.pk, with_children=True) == orm_view(bill.pk, with_children=True)


def test_an_unknown_bill_is_none(db):
    assert Bill.objects.bill_view(10**9) is None


@pytest.mark.parametrize("finalise", [False, True])
def test_a_bill_of_50_parents_of_30_children_is_one_query(biller, django_assert_num_queries, finalise):
    bill = big_bill(biller, parents=50, children=30)
    if finalise:
        services.finalise_bill(user=biller, bill_id=bill.pk)

    with django_assert_num_queries(1):
        view = Bill.objects.bill_view(bill.pk, with_children=True)

    assert (view.parent_count, view.child_count) == (50, 1500)
    assert all(len(parent.child_codes) == 30 for parent in view.parents)
    assert view.actual_weight_kg == view.expected_weight_kg == Decimal("1500.000")


def test_bill_search_by_text_status_and_dates_sorted(biller):
    factories.make_bill(biller, bill_number="INV-1", customer="Jaipur mandi", bill_date=date(2026, 1, 5))
    factories.make_bill(biller, bill_number="INV-2", customer="Kota depot", bill_date=date(2026, 2, 5))
    third = factories.make_bill(biller, bill_number="JPR-3", customer="Ajmer", bill_date=date(2026, 3, 5))
    factories.put_on_bill(third, factories.make_parent())

    def numbers(**arguments):
        return [bill.bill_number for bill in Bill.objects.search(**arguments)]

    assert numbers() == ["JPR-3", "INV-2", "INV-1"]
    assert numbers(text="jpr") == ["JPR-3"]
    assert numbers(text="JAIPUR") == ["INV-1"]
    assert numbers(date_from=date(2026, 2, 1), date_to=date(2026, 3, 5)) == ["JPR-3", "INV-2"]
    assert numbers(status="finalised") == []
    assert numbers(sort="bill_number") == ["INV-1", "INV-2", "JPR-3"]
    assert numbers(sort="-parents")[0] == "JPR-3"
    assert numbers(sort="nonsense") == ["JPR-3", "INV-2", "INV-1"]
