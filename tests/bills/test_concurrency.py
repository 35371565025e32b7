"""Billers at the same moment on real PostgreSQL: threads, each on its own connection, released together.

These tests commit (transaction=True), so what one thread wrote is what the others race against;
serialized_rollback puts the data migration's products back afterwards.
"""

from collections import Counter

import pytest

from accounts.models import Role
from audit.choices import AuditAction
from audit.models import AuditLog
from bags.models import Bag, BagKind
from bills import services
from bills.models import BillBag
from bills.services import BillChange, BillRefused
from tests import factories
from tests.concurrency import all_at_once

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def attempt(call) -> BillChange | BillRefused:
    try:
        return call()
    except BillRefused as refusal:
        return refusal


def test_two_billers_adding_the_same_parent_to_two_bills_at_once_exactly_one_wins(wide_pool):
    billers = [factories.make_user(f"b{n}", role=Role.BILLER) for n in range(2)]
    bills = [factories.make_bill(biller, bill_number=f"INV-{n}") for n, biller in enumerate(billers)]
    factories.make_parent("SB12345")

    for _ in range(5):  # the race goes either way; it must end the same way every time
        answers = all_at_once(
            [
                lambda biller=biller, bill=bill: attempt(
                    lambda: services.add_parent(user=biller, bill_id=bill.pk, raw_code="SB12345")
                )
                for biller, bill in zip(billers, bills, strict=True)
            ]
        )

        assert Counter(answer.code for answer in answers) == {"parent_added": 1, "already_on_bill": 1}
        entry = BillBag.objects.select_related("bill").get()
        loser = next(answer for answer in answers if isinstance(answer, BillRefused))
        assert loser.message == f"SB12345 is already on bill {entry.bill.bill_number}."
        assert AuditLog.objects.filter(action=AuditAction.BILL_PARENT_ADD).count() == 1
        BillBag.objects.all().delete()
        AuditLog.objects.all().delete()


def test_twenty_billers_adding_the_same_parent_to_twenty_bills_leave_it_on_one(wide_pool):
    billers = [factories.make_user(f"b{n}", role=Role.BILLER) for n in range(20)]
    bills = [factories.make_bill(biller, bill_number=f"INV-{n}") for n, biller in enumerate(billers)]
    factories.make_parent("SB12345")

    answers = all_at_once(
        [
            lambda biller=biller, bill=bill: attempt(
                lambda: services.add_parent(user=biller, bill_id=bill.pk, raw_code="SB12345")
            )
            for biller, bill in zip(billers, bills, strict=True)
        ]
    )

    assert Counter(answer.code for answer in answers) == {"parent_added": 1, "already_on_bill": 19}
    assert BillBag.objects.count() == 1


def test_parents_scanned_onto_one_bill_at_once_never_pass_500(wide_pool):
    billers = [factories.make_user(f"b{n}", role=Role.BILLER) for n in range(6)]
    bill = factories.make_bill(billers[0], expected_parents=500)
    parents = Bag.objects.bulk_create(
        [Bag(qr_id=f"SB{n:05d}", kind=BagKind.PARENT, product=factories.product()) for n in range(1, 505)]
    )
    BillBag.objects.bulk_create([BillBag(bill=bill, parent_bag=parent) for parent in parents[:498]])

    answers = all_at_once(
        [
            lambda biller=biller, parent=parent: attempt(
                lambda: services.add_parent(user=biller, bill_id=bill.pk, raw_code=parent.qr_id)
            )
            for biller, parent in zip(billers, parents[498:], strict=True)
        ]
    )

    assert Counter(answer.code for answer in answers) == {"parent_added": 2, "bill_full": 4}
    assert BillBag.objects.filter(bill=bill).count() == 500


def test_a_finalise_racing_adds_leaves_the_snapshot_complete(wide_pool):
    billers = [factories.make_user(f"b{n}", role=Role.BILLER) for n in range(6)]
    bill = factories.make_bill(billers[0], expected_parents=10)
    factories.put_on_bill(bill, factories.make_parent("SB00000"))
    parents = [factories.make_parent(f"SB{n:05d}") for n in range(1, 6)]

    calls = [lambda: attempt(lambda: services.finalise_bill(user=billers[0], bill_id=bill.pk))] + [
        lambda biller=biller, parent=parent: attempt(
            lambda: services.add_parent(user=biller, bill_id=bill.pk, raw_code=parent.qr_id)
        )
        for biller, parent in zip(billers[1:], parents, strict=True)
    ]
    answers = all_at_once(calls)

    added = sum(answer.code == "parent_added" for answer in answers)
    assert answers[0].code == "finalised"
    assert added + sum(answer.code == "bill_finalised" for answer in answers) == 5
    # Every parent on the bill, whenever it came, is in the snapshot: none slipped in after it.
    assert BillBag.objects.filter(bill=bill, frozen_child_count__isnull=True).count() == 0
    assert BillBag.objects.filter(bill=bill).count() == 1 + added
