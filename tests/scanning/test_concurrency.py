"""Simultaneous scans on real PostgreSQL: threads, each on its own connection, released together.

These tests commit (transaction=True), so what one thread wrote is what the others race against;
serialized_rollback puts the data migration's products back afterwards.
"""

import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from django.db import connection

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


def test_moves_and_scans_into_one_parent_at_once_never_pass_its_capacity(wide_pool):
    area = factories.make_area()
    dispatchers = [factories.make_user(f"d{n}", area=area) for n in range(20)]
    source = factories.make_parent("SB00001", dispatch_area=area)
    target = factories.make_parent("SB00002", dispatch_area=area)
    for n in range(10):
        factories.link(source, factories.make_child(f"MOVE{n:04d}", dispatch_area=area))
    for n in range(25):
        factories.link(target, factories.make_child(f"HELD{n:04d}", dispatch_area=area))

    answers = all_at_once(
        [
            lambda user=user, n=n: services.move_child(
                user=user, raw_code=f"MOVE{n:04d}", parent_code="SB00002", client_scan_id=uuid.uuid4().hex
            )
            for n, user in enumerate(dispatchers[:10])
        ]
        + [
            lambda user=user, n=n: services.scan_child(
                user=user, parent_code="SB00002", raw_code=f"SCAN{n:04d}", client_scan_id=uuid.uuid4().hex
            )
            for n, user in enumerate(dispatchers[10:])
        ]
    )

    assert sum(answer.body["ok"] for answer in answers) == 5
    assert {answer.body["code"] for answer in answers if not answer.body["ok"]} == {"parent_full"}
    target.refresh_from_db()
    source.refresh_from_db()
    assert target.child_count == 30 == Link.objects.filter(parent=target).count()
    assert (
        source.child_count
        == Link.objects.filter(parent=source).count()
        == 10 - Scan.objects.filter(action=ScanAction.MOVE).count()
    )


def test_two_moves_of_one_child_at_once_leave_it_in_one_parent_one_move_after_the_other(wide_pool):
    area = factories.make_area()
    movers = [factories.make_user(f"d{n}", area=area) for n in range(2)]
    source = factories.make_parent("SB00001", dispatch_area=area)
    factories.link(source, factories.make_child("CHILD0001", dispatch_area=area))
    targets = [factories.make_parent(f"SB0000{n}", dispatch_area=area) for n in (2, 3)]

    answers = all_at_once(
        [
            lambda user=user, target=target: services.move_child(
                user=user, raw_code="CHILD0001", parent_code=target.qr_id, client_scan_id=uuid.uuid4().hex
            )
            for user, target in zip(movers, targets, strict=True)
        ]
    )

    assert [answer.body["code"] for answer in answers] == ["moved", "moved"]
    first, second = Scan.objects.filter(action=ScanAction.MOVE).order_by("pk")
    # The second moved it from where the first had put it.
    assert (first.from_parent_qr, second.from_parent_qr) == ("SB00001", first.parent_qr)
    link = Link.objects.get()
    assert link.parent.qr_id == second.parent_qr
    counts = dict(Bag.objects.filter(kind="parent").values_list("qr_id", "child_count"))
    assert counts == {"SB00001": 0, first.parent_qr: 0, second.parent_qr: 1}


def test_a_move_and_the_undo_of_the_childs_scan_at_once_one_wins(wide_pool):
    area = factories.make_area()
    scanner, mover = factories.make_user("scanner", area=area), factories.make_user("mover", area=area)
    factories.make_parent("SB00001", dispatch_area=area)
    factories.make_parent("SB00002", dispatch_area=area)
    services.scan_child(user=scanner, parent_code="SB00001", raw_code="CHILD0001", client_scan_id=uuid.uuid4().hex)

    undone, moved = all_at_once(
        [
            lambda: services.undo_last_scan(user=scanner, client_scan_id=uuid.uuid4().hex),
            lambda: services.move_child(
                user=mover, raw_code="CHILD0001", parent_code="SB00002", client_scan_id=uuid.uuid4().hex
            ),
        ]
    )

    assert undone.body["ok"] != moved.body["ok"]  # exactly one of them happened
    where = Link.objects.filter(child__qr_id="CHILD0001").values_list("parent__qr_id", flat=True).first()
    if moved.body["ok"]:
        assert (where, undone.body["code"]) == ("SB00002", "moved")
    else:
        assert (where, moved.body["code"]) == (None, "not_in_a_parent")
    counts = dict(Bag.objects.filter(kind="parent").values_list("qr_id", "child_count"))
    assert counts == {"SB00001": 0, "SB00002": 1 if moved.body["ok"] else 0}


def test_a_move_and_its_own_undo_racing_another_move_keep_the_counts_right(wide_pool):
    area = factories.make_area()
    first, other = factories.make_user("first", area=area), factories.make_user("other", area=area)
    for n in (1, 2, 3):
        factories.make_parent(f"SB0000{n}", dispatch_area=area)
    services.scan_child(user=first, parent_code="SB00001", raw_code="CHILD0001", client_scan_id=uuid.uuid4().hex)
    services.move_child(user=first, raw_code="CHILD0001", parent_code="SB00002", client_scan_id=uuid.uuid4().hex)

    undone, moved = all_at_once(
        [
            lambda: services.undo_last_scan(user=first, client_scan_id=uuid.uuid4().hex),
            lambda: services.move_child(
                user=other, raw_code="CHILD0001", parent_code="SB00003", client_scan_id=uuid.uuid4().hex
            ),
        ]
    )

    where = Link.objects.get(child__qr_id="CHILD0001").parent.qr_id
    counts = dict(Bag.objects.filter(kind="parent").values_list("qr_id", "child_count"))
    assert counts == {code: int(code == where) for code in ("SB00001", "SB00002", "SB00003")}
    assert moved.body["ok"]  # from SB00002 or, after the undo, from SB00001
    assert where == "SB00003"
    assert undone.body["code"] in {"undone", "moved"}


def test_a_move_waits_for_a_finalise_under_way_and_is_then_refused(wide_pool):
    """The move's read of the parent's bill holds the bill row (FOR SHARE): a finalise that has locked the bill
    is waited for, and its status read, so no child leaves a parent after its bill froze it."""
    area = factories.make_area()
    mover = factories.make_user("mover", area=area)
    source = factories.make_parent("SB00001", dispatch_area=area)
    factories.make_parent("SB00002", dispatch_area=area)
    factories.link(source, factories.make_child("CHILD0001", dispatch_area=area))
    bill = factories.make_bill(factories.make_user("biller", role="biller"), bill_number="INV-1")
    factories.put_on_bill(bill, source)

    with psycopg.connect(**connection.get_connection_params()) as finaliser:
        # A finalise under way: the bill row locked, as bills.services.finalise_bill locks it first.
        finaliser.execute("SELECT id FROM bills_bill WHERE id = %s FOR UPDATE", [bill.pk])
        with ThreadPoolExecutor(max_workers=1) as pool:
            moving = pool.submit(
                lambda: _on_own_connection(
                    lambda: services.move_child(
                        user=mover, raw_code="CHILD0001", parent_code="SB00002", client_scan_id=uuid.uuid4().hex
                    )
                )
            )
            _wait_until_waiting_for_a_lock(moving)
            finaliser.execute(
                "UPDATE bills_bill SET status = 'finalised', finalised_at = now(), frozen_full_parent_weight_kg = 30"
                " WHERE id = %s",
                [bill.pk],
            )
            finaliser.commit()
            answer = moving.result(timeout=30)

    assert (answer.status, answer.body["code"]) == (409, "on_finalised_bill")
    assert Link.objects.get(child__qr_id="CHILD0001").parent == source


def _on_own_connection(call):
    try:
        return call()
    finally:
        connection.close()


def _wait_until_waiting_for_a_lock(future, timeout: float = 30) -> None:
    """Until another backend waits for a lock (the move, on the bill row), or the call ended without waiting."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as probe:
        while time.monotonic() < deadline and not future.done():
            waiting = probe.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            ).fetchone()[0]
            if waiting:
                return
    assert not future.done(), f"the move did not wait for the bill: {future.result().body}"
