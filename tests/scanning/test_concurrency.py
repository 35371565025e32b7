"""Simultaneous scans on real PostgreSQL: threads, each on its own connection, released together.

These tests commit (transaction=True), so what one thread wrote is what the others race against;
serialized_rollback puts the data migration's products back afterwards.
"""

import uuid
from collections import Counter

import pytest

from bags.models import Bag, Link
from scanning import services
from scanning.models import Scan, ScanAction, ScanReply
from tests import factories
from tests.concurrency import all_at_once

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_one_child_scanned_into_fifty_parents_at_once_is_linked_once(wide_pool):
    area = factories.make_area()
    dispatchers = [factories.make_user(f"d{n}", area=area) for n in range(50)]
    parents = [factories.make_parent(f"SB{n:05d}", dispatch_area=area) for n in range(1, 51)]

    answers = all_at_once(
        [
            lambda user=user, parent=parent: services.scan_child(
                user=user, parent_code=parent.qr_id, raw_code="CHILD0001", client_scan_id=uuid.uuid4().hex
            )
            for user, parent in zip(dispatchers, parents, strict=True)
        ]
    )

    assert Counter(answer.body["code"] for answer in answers) == {"linked": 1, "child_in_other_parent": 49}
    link = Link.objects.get()
    assert link.child.qr_id == "CHILD0001"
    assert Bag.objects.filter(qr_id="CHILD0001").count() == 1
    assert {(p.qr_id, p.child_count) for p in Bag.objects.filter(kind="parent", child_count__gt=0)} == {
        (link.parent.qr_id, 1)
    }
    assert Scan.objects.filter(action=ScanAction.LINK).count() == 1
    winner = next(answer for answer in answers if answer.body["code"] == "linked")
    losers_name = {answer.body["message"] for answer in answers if not answer.body["ok"]}
    assert all(winner.body["parent"]["qr_id"] in message for message in losers_name)


def test_sixty_scans_into_one_parent_of_thirty_link_exactly_thirty(wide_pool):
    area = factories.make_area()
    dispatchers = [factories.make_user(f"d{n}", area=area) for n in range(60)]
    parent = factories.make_parent("SB00001", dispatch_area=area)

    answers = all_at_once(
        [
            lambda user=user, n=n: services.scan_child(
                user=user, parent_code="SB00001", raw_code=f"CHILD{n:04d}", client_scan_id=uuid.uuid4().hex
            )
            for n, user in enumerate(dispatchers)
        ]
    )

    assert Counter(answer.body["code"] for answer in answers) == {"linked": 30, "parent_full": 30}
    parent = Bag.objects.with_completion().get(pk=parent.pk)
    assert parent.child_count == 30 == Link.objects.filter(parent=parent).count()
    assert parent.complete
    assert sorted(a.body["parent"]["child_count"] for a in answers if a.body["ok"]) == list(range(1, 31))
    # Refused scans left no child behind.
    assert Bag.objects.filter(kind="child").count() == 30
    assert Scan.objects.filter(action=ScanAction.LINK).count() == 30


def test_the_same_scan_sent_ten_times_at_once_is_recorded_once(wide_pool):
    area = factories.make_area()
    dispatcher = factories.make_user("d1", area=area)
    factories.make_parent("SB00001", dispatch_area=area)
    scan_id = uuid.uuid4().hex

    answers = all_at_once(
        [
            lambda: services.scan_child(
                user=dispatcher, parent_code="SB00001", raw_code="CHILD0001", client_scan_id=scan_id
            )
        ]
        * 10
    )

    assert {answer.status for answer in answers} == {200}
    assert all(answer.body == answers[0].body for answer in answers)
    assert sum(not answer.replayed for answer in answers) == 1
    assert Link.objects.count() == 1
    assert Scan.objects.filter(action=ScanAction.LINK).count() == 1
    assert ScanReply.objects.count() == 1
    assert Bag.objects.get(qr_id="SB00001").child_count == 1


def test_new_parent_opened_by_many_at_once_is_created_once(wide_pool):
    area = factories.make_area()
    dispatchers = [factories.make_user(f"d{n}", area=area) for n in range(20)]

    answers = all_at_once(
        [
            lambda user=user: services.open_parent(user=user, raw_code="SB00001", client_scan_id=uuid.uuid4().hex)
            for user in dispatchers
        ]
    )

    assert Counter(answer.body["code"] for answer in answers) == {"parent_created": 1, "parent_opened": 19}
    assert Bag.objects.filter(qr_id="SB00001").count() == 1
    assert Scan.objects.filter(action=ScanAction.OPEN_PARENT).count() == 20


def test_undo_and_scans_into_the_same_parent_keep_the_count_right(wide_pool):
    area = factories.make_area()
    dispatchers = [factories.make_user(f"d{n}", area=area) for n in range(10)]
    factories.make_parent("SB00001", dispatch_area=area)
    for n, user in enumerate(dispatchers[:5]):
        services.scan_child(user=user, parent_code="SB00001", raw_code=f"FIRST{n:04d}", client_scan_id=uuid.uuid4().hex)

    all_at_once(
        [
            lambda user=user: services.undo_last_scan(user=user, client_scan_id=uuid.uuid4().hex)
            for user in dispatchers[:5]
        ]
        + [
            lambda user=user, n=n: services.scan_child(
                user=user, parent_code="SB00001", raw_code=f"LATER{n:04d}", client_scan_id=uuid.uuid4().hex
            )
            for n, user in enumerate(dispatchers[5:])
        ]
    )

    parent = Bag.objects.get(qr_id="SB00001")
    assert parent.child_count == Link.objects.filter(parent=parent).count() == 5
    assert set(Link.objects.values_list("child__qr_id", flat=True)) == {f"LATER{n:04d}" for n in range(5)}
