"""A bag's story (tracking.story): the timeline and as-of statements against a plain Python replay of the events
(tests/tracking/replay.py) and against the state the tables held at each moment, over random sequences of
link, move, undo (of a link and of a move), unlink, delete, bill add/remove/finalise/reopen and return.

Every step goes through the services that make it (scanning's scan, move, undo and supervisor unlink; the bill
services; the returns' bills functions; tracking's deletion), and a step they refuse changes nothing.
"""

import uuid
from datetime import timedelta
from itertools import count

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Role
from bags.models import Bag, Link
from bills import services as bills
from bills.models import BillBag
from scanning import services as scanning
from tests import factories
from tests.tracking.replay import Events, replay_as_of, replay_timeline
from tracking import services as tracking
from tracking import story
from traitortrack.errors import Refused

pytestmark = pytest.mark.django_db

PARENTS, CHILDREN, BILLS = 3, 4, 2
_example = count(1)


def give_back(user, codes: list[str]) -> None:
    """A return ticket's commit of one parent of ``codes`` on a finalised bill, through the bills functions
    the returns use (its 'returned' event is the trigger's)."""
    entry = BillBag.objects.current().filter(parent_bag__qr_id__in=codes, frozen_child_count__isnull=False).first()
    if entry is None:
        return
    with transaction.atomic():
        entries = bills.lock_entries_for_return([entry.parent_bag_id])
        bills.release_entries(
            user=user, entries=list(entries.values()), ticket_number="RTN-20261120-0001", at=timezone.now()
        )


def run(op: str, p: int, c: int, b: int, world: dict) -> None:
    biller, admin = world["biller"], world["admin"]
    parent_code, child_code = world["parents"][p], world["children"][c]
    bill = world["bills"][b]
    try:
        if op == "link":
            scanning.scan_child(
                user=biller, parent_code=parent_code, raw_code=child_code, client_scan_id=uuid.uuid4().hex
            )
        elif op == "undo":
            scanning.undo_last_scan(user=biller, client_scan_id=uuid.uuid4().hex)
        elif op == "move":
            scanning.move_child(
                user=biller, raw_code=child_code, parent_code=parent_code, client_scan_id=uuid.uuid4().hex
            )
        elif op == "unlink":
            scanning.supervisor_unlink(
                user=biller, child_code=child_code, reason="wrong parent", client_scan_id=uuid.uuid4().hex
            )
        elif op == "add":
            bills.add_parent(user=biller, bill_id=bill.pk, raw_code=parent_code)
        elif op == "remove":
            bills.remove_parent(user=biller, bill_id=bill.pk, raw_code=parent_code)
        elif op == "finalise":
            bills.finalise_bill(user=biller, bill_id=bill.pk)
        elif op == "reopen" and not BillBag.objects.filter(bill=bill, returned_at__isnull=False).exists():
            # A bill with a returned parent is not reopened (its snapshot holds the return): the returns' rule.
            bills.reopen_bill(user=admin, bill_id=bill.pk)
        elif op == "return":
            give_back(biller, world["parents"])
        elif op == "delete_child":
            tracking.delete_bag(user=admin, code=child_code, reason="wrong label")
        elif op == "delete_parent":
            tracking.delete_bag(user=admin, code=parent_code, reason="wrong label")
    except Refused:
        pass  # a step the rules refuse changes nothing: the sequence goes on


def state_now(codes: list[str]) -> dict[int, tuple]:
    """What the tables hold now, per bag of ``codes``: a child's parent, a parent's children, the current bill."""
    state = {}
    for bag in Bag.objects.filter(qr_id__in=codes):
        if bag.is_parent:
            entry = BillBag.objects.current().filter(parent_bag=bag).select_related("bill").first()
            children = set(Link.objects.filter(parent=bag).values_list("child__qr_id", flat=True))
            bill = (entry.bill.bill_number, entry.bill.status) if entry else None
            state[bag.pk] = (None, children, bill)
        else:
            link = Link.objects.filter(child=bag).select_related("parent").first()
            entry = (
                link and BillBag.objects.current().filter(parent_bag_id=link.parent_id).select_related("bill").first()
            )
            bill = (entry.bill.bill_number, entry.bill.status) if entry else None
            state[bag.pk] = (link.parent.qr_id if link else None, set(), bill)
    return state


def sql_as_of(bag: Bag, at, **scope) -> story.AsOf:
    scope = scope or {"restricted": False, "area_id": None}
    return story.as_of(bag.qr_id, kind=bag.kind, created_at=bag.created_at, at=at, **scope)


def seen(state: story.AsOf) -> tuple:
    bill = (state.bill.bill_number, state.bill.status) if state.bill else None
    return (state.parent.qr_id if state.parent else None, {child.qr_id for child in state.children}, bill)


STEP = st.tuples(
    st.sampled_from(
        ["link"] * 6
        + ["move"] * 3
        + ["undo", "undo", "unlink", "unlink", "add", "add", "add", "remove", "finalise", "finalise", "reopen"]
        + ["return", "return", "delete_child", "delete_parent"]
    ),
    st.integers(0, PARENTS - 1),
    st.integers(0, CHILDREN - 1),
    st.integers(0, BILLS - 1),
    # Seconds to the next step (0: two events at one instant), mostly within the hour a biller's undo may reach.
    st.sampled_from([0, 1, 1, 59, 59, 600, 600, 3601]),
)


@pytest.fixture
def people(mustard):
    return {
        "biller": factories.make_user("story-biller", role=Role.BILLER),
        "admin": factories.make_user("story-admin", role=Role.ADMIN),
    }


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=15, max_size=40))
def test_as_of_and_timeline_are_the_events_replayed(people, clock, steps):
    n = next(_example)
    world = {
        **people,
        "parents": [f"SB{n:03d}{i:02d}" for i in range(PARENTS)],
        "children": [f"C{n:04d}{i:03d}" for i in range(CHILDREN)],
    }
    world["bills"] = [factories.make_bill(people["biller"], bill_number=f"ST-{n}-{j}") for j in range(BILLS)]
    for code in world["parents"]:
        scanning.open_parent(user=people["biller"], raw_code=code, client_scan_id=uuid.uuid4().hex)
    start, codes = clock.now, [*world["parents"], *world["children"]]
    truth = {clock.now: state_now(codes)}
    for op, p, c, b, seconds in steps:
        clock.shift(seconds=seconds)
        run(op, p, c, b, world)
        truth[clock.now] = state_now(codes)  # the state after the last step at this instant
    clock.shift(seconds=1)

    mine, events = list(Bag.objects.filter(qr_id__in=codes).select_related("created_by")), Events.of(codes)
    # The tables at each moment: what the SQL must say about that moment.
    for at, state in truth.items():
        for bag in mine:
            if bag.pk in state and bag.created_at <= at:
                assert seen(sql_as_of(bag, at)) == state[bag.pk], (bag.qr_id, at)
    # And between and before the moments, exactly what the replay says, since when included.
    moments = sorted({*truth, start - timedelta(seconds=1), *(at + timedelta(milliseconds=1) for at in truth)})
    for bag in mine:
        for at in moments:
            assert sql_as_of(bag, at) == replay_as_of(events, bag, at), (bag.qr_id, at)
        assert story.timeline(bag.qr_id, restricted=False, area_id=None) == replay_timeline(events, bag)


@pytest.fixture
def moved(people, clock, area):
    """C0000001 linked into SB00001, moved to SB00002 (an hour on), the move undone, then unlinked with a
    reason; SB00002 put on a bill and finalised; C0000002 linked into SB00002 by a dispatcher of the area."""
    biller, admin = people["biller"], people["admin"]
    dispatcher = factories.make_user("story-dispatcher", area=area)
    other = factories.make_user("story-other", area=factories.make_area("Area B"))
    for code in ("SB00001", "SB00002"):
        scanning.open_parent(user=dispatcher, raw_code=code, client_scan_id=uuid.uuid4().hex)
    times = {"start": clock.now}
    clock.shift(minutes=1)
    scanning.scan_child(user=biller, parent_code="SB00001", raw_code="C0000001", client_scan_id=uuid.uuid4().hex)
    times["linked"] = clock.now
    clock.shift(hours=1)
    scanning.move_child(user=biller, raw_code="C0000001", parent_code="SB00002", client_scan_id=uuid.uuid4().hex)
    times["moved"] = clock.now
    clock.shift(hours=1)
    scanning.undo_last_scan(user=biller, client_scan_id=uuid.uuid4().hex)
    times["undone"] = clock.now
    clock.shift(hours=1)
    scanning.scan_child(user=dispatcher, parent_code="SB00002", raw_code="C0000002", client_scan_id=uuid.uuid4().hex)
    bill = factories.make_bill(biller, bill_number="INV-7")
    bills.add_parent(user=biller, bill_id=bill.pk, raw_code="SB00002")
    bills.finalise_bill(user=biller, bill_id=bill.pk)
    times["billed"] = clock.now
    clock.shift(hours=1)
    scanning.supervisor_unlink(
        user=admin, child_code="C0000001", reason="wrong parent", client_scan_id=uuid.uuid4().hex
    )
    times["unlinked"] = clock.now
    return {**people, "dispatcher": dispatcher, "other": other, "times": times}


def texts(qr_id: str, **scope) -> list[str]:
    scope = scope or {"restricted": False, "area_id": None}
    return [story.sentence(event, bag_qr=qr_id) for event in story.timeline(qr_id, **scope)]


def test_a_childs_timeline_tells_each_event_newest_first(moved):
    assert texts("C0000001") == [
        "Unlinked from SB00001 (wrong parent)",
        "Move undone: back from SB00002 into SB00001",
        "Moved from SB00001 to SB00002",
        "Linked into SB00001",
        "Created",
    ]


def test_a_parents_timeline_tells_its_childrens_comings_and_goings_and_its_bills(moved):
    assert texts("SB00001") == [
        "C0000001 unlinked (wrong parent)",
        "C0000001 back in from SB00002 (move undone)",
        "C0000001 moved out to SB00002",
        "C0000001 linked in",
        "Opened for scanning",
        "Created",
    ]
    assert texts("SB00002")[:4] == [
        "Bill INV-7 finalised",
        "Put on bill INV-7",
        "C0000002 linked in",
        "C0000001 back to SB00001 (move undone)",
    ]


def test_as_of_answers_where_a_child_was_and_what_a_parent_held(moved):
    times = moved["times"]
    child = Bag.objects.get(qr_id="C0000001")
    parent = Bag.objects.get(qr_id="SB00002")

    assert sql_as_of(child, times["start"]).parent is None
    assert sql_as_of(child, times["linked"]).parent == story.Held("SB00001", times["linked"])
    assert sql_as_of(child, times["moved"]).parent == story.Held("SB00002", times["moved"])
    assert sql_as_of(child, times["undone"]).parent == story.Held("SB00001", times["undone"])
    assert sql_as_of(child, times["unlinked"]).parent is None
    assert [c.qr_id for c in sql_as_of(parent, times["moved"]).children] == ["C0000001"]
    assert sql_as_of(parent, times["undone"]).children == ()
    billed = sql_as_of(parent, times["billed"])
    assert billed.bill.bill_number == "INV-7" and billed.bill.status == "finalised"
    assert [c.qr_id for c in billed.children] == ["C0000002"]
    assert sql_as_of(Bag.objects.get(qr_id="C0000002"), times["billed"]).bill.bill_number == "INV-7"


def test_a_dispatcher_sees_a_parent_of_another_area_only_as_such(moved):
    times, other = moved["times"], moved["other"]
    child = Bag.objects.get(qr_id="C0000001")
    scope = {"restricted": True, "area_id": other.dispatch_area_id}

    assert sql_as_of(child, times["linked"], **scope).parent == story.Held(None, times["linked"])
    events = Events.of(["C0000001", "C0000002", "SB00001", "SB00002"])
    assert sql_as_of(child, times["linked"], **scope) == replay_as_of(events, child, times["linked"], **scope)
    assert texts("C0000001", **scope) == ["Created"]  # every event of it named the first area's parents
    mine = {"restricted": True, "area_id": moved["dispatcher"].dispatch_area_id}
    assert story.timeline("C0000001", **mine) == replay_timeline(events, child, **mine)


def test_the_timeline_and_as_of_are_one_query_each(moved, django_assert_num_queries):
    parent = Bag.objects.get(qr_id="SB00001")
    with django_assert_num_queries(1):
        story.timeline("SB00001", restricted=False, area_id=None)
    with django_assert_num_queries(1):
        sql_as_of(parent, timezone.now())
