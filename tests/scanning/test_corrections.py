"""Corrections by scanning and by supervisors (scanning.services): move, the undo of a move, the supervisor's
unlink, and the device's time of a scan it queued offline."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import Role
from audit.choices import AuditAction
from audit.models import AuditLog
from bags.models import Bag, BagTotals, Link
from bills.models import BillBag
from scanning import services
from scanning.choices import PUTS_CHILD_IN, TAKES_CHILD_OUT
from scanning.models import Scan, ScanAction, ScanReply
from tests import factories
from tests.scanning.events import documented_event


def new_id() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def dispatcher(area):
    return factories.make_user("disp", area=area)


@pytest.fixture
def biller(db):
    return factories.make_user("biller", role=Role.BILLER)


@pytest.fixture
def floor(dispatcher, mustard):
    """SB00001 holding C0000001 and C0000002, SB00002 holding C0000003, both of the dispatcher's area."""
    area = dispatcher.dispatch_area
    for parent, children in (("SB00001", ["C0000001", "C0000002"]), ("SB00002", ["C0000003"])):
        services.open_parent(user=dispatcher, raw_code=parent, client_scan_id=new_id())
        for child in children:
            services.scan_child(user=dispatcher, parent_code=parent, raw_code=child, client_scan_id=new_id())
    return area


def move(user, child, parent, scan_id=None, **extra):
    return services.move_child(
        user=user, raw_code=child, parent_code=parent, client_scan_id=scan_id or new_id(), **extra
    )


def undo(user, scan_id=None, **extra):
    return services.undo_last_scan(user=user, client_scan_id=scan_id or new_id(), **extra)


def unlink(user, child, reason="Scanned into the wrong parent", scan_id=None):
    return services.supervisor_unlink(user=user, child_code=child, reason=reason, client_scan_id=scan_id or new_id())


def holder(child: str) -> str | None:
    link = Link.objects.filter(child__qr_id=child).select_related("parent").first()
    return link.parent.qr_id if link else None


def counts(*parents: str) -> list[int]:
    return [Bag.objects.get(qr_id=parent).child_count for parent in parents]


def finalised_bill_holding(user, parent: str, number: str = "INV-7"):
    bill = factories.make_bill(user, bill_number=number)
    factories.put_on_bill(bill, Bag.objects.get(qr_id=parent))
    return factories.finalise(bill)


# --- Move


def test_a_move_takes_the_child_out_of_one_parent_into_the_other(dispatcher, floor):
    answer = move(dispatcher, " c0000001 ", "sb00002")

    assert answer.status == 200
    assert answer.body["code"] == "moved"
    assert answer.body["message"] == "C0000001 moved from SB00001 to SB00002: 2 of 30."
    assert (answer.body["parent"]["qr_id"], answer.body["parent"]["child_count"]) == ("SB00002", 2)
    assert (answer.body["other_parent"]["qr_id"], answer.body["other_parent"]["child_count"]) == ("SB00001", 1)
    assert holder("C0000001") == "SB00002"
    assert counts("SB00001", "SB00002") == [1, 2]
    event = Scan.objects.get(action=ScanAction.MOVE)
    assert (event.bag_qr, event.parent_qr, event.from_parent_qr, event.user) == (
        "C0000001",
        "SB00002",
        "SB00001",
        dispatcher,
    )
    assert event.from_parent == Bag.objects.get(qr_id="SB00001")
    assert answer.body["scan"] == documented_event(event)
    link = Link.objects.get(child__qr_id="C0000001")
    assert (link.created_by, link.created_at) == (dispatcher, event.created_at)  # in this parent since the move


def test_a_moved_child_takes_the_new_parents_area(biller, floor, mustard):
    other = factories.make_area("Far")
    factories.make_parent("SB00009", dispatch_area=other)

    answer = move(biller, "C0000001", "SB00009")

    assert answer.body["code"] == "moved"
    assert Bag.objects.get(qr_id="C0000001").dispatch_area == other
    assert Scan.objects.get(action=ScanAction.MOVE).dispatch_area == other


@pytest.mark.parametrize(
    ("child", "parent", "code", "status"),
    [
        ("C0000009", "SB00002", "unknown_bag", 404),
        ("C0000001", "SB00077", "unknown_parent", 404),
        ("C0000001", "SB00001", "already_in_this_parent", 409),
        ("SB00001", "SB00002", "parent_where_child_expected", 422),
        ("C0000001", "C0000003", "child_where_parent_expected", 422),
        ("C1", "SB00002", "too_short", 422),
    ],
)
def test_a_move_the_rules_refuse_changes_nothing(dispatcher, floor, child, parent, code, status):
    answer = move(dispatcher, child, parent)

    assert (answer.status, answer.body["code"]) == (status, code)
    assert not answer.body["ok"]
    assert counts("SB00001", "SB00002") == [2, 1]
    assert not Scan.objects.filter(action=ScanAction.MOVE).exists()


def test_a_loose_child_is_not_moved_but_scanned_in(dispatcher, floor):
    factories.make_child("C0000050", dispatch_area=floor)

    answer = move(dispatcher, "C0000050", "SB00002")

    assert (answer.status, answer.body["code"]) == (409, "not_in_a_parent")
    assert answer.body["message"] == (
        "C0000050 is in no parent, so there is nothing to move. Scan it into SB00002 as a child."
    )
    assert holder("C0000050") is None


def test_a_full_or_complete_parent_takes_no_moved_child(dispatcher, floor, mustard):
    mustard.capacity = 1
    mustard.save()
    factories.make_parent("SB00003", dispatch_area=floor)
    services.complete_parent(user=dispatcher, parent_code="SB00003", client_scan_id=new_id())

    full = move(dispatcher, "C0000001", "SB00002")
    complete = move(dispatcher, "C0000001", "SB00003")

    assert (full.body["code"], complete.body["code"]) == ("parent_full", "parent_complete")
    assert full.body["message"] == "SB00002 is full (1 of 1): C0000001 was not moved."
    assert holder("C0000001") == "SB00001"


def test_a_dispatcher_moves_only_between_parents_of_their_area(dispatcher, floor, mustard):
    other = factories.make_area("Far")
    factories.make_parent("SB00009", dispatch_area=other)
    far_child = factories.make_child("C0000090", dispatch_area=other)
    factories.link(Bag.objects.get(qr_id="SB00009"), far_child)

    into_other = move(dispatcher, "C0000001", "SB00009")
    out_of_other = move(dispatcher, "C0000090", "SB00002")

    assert (into_other.status, into_other.body["code"]) == (403, "not_your_area")
    assert (out_of_other.status, out_of_other.body["code"]) == (403, "not_your_area")
    assert "SB00009" not in out_of_other.body["message"]  # another area's parent is not named to a dispatcher
    assert (holder("C0000001"), holder("C0000090")) == ("SB00001", "SB00009")


def test_a_child_on_a_finalised_bill_is_not_moved_and_the_bill_is_named(dispatcher, biller, floor):
    finalised_bill_holding(biller, "SB00001")

    answer = move(dispatcher, "C0000001", "SB00002")

    assert (answer.status, answer.body["code"]) == (409, "on_finalised_bill")
    assert "INV-7" in answer.body["message"] and "SB00001" in answer.body["message"]
    assert holder("C0000001") == "SB00001"


def test_a_child_on_a_draft_bill_or_returned_from_a_finalised_one_is_moved(dispatcher, biller, floor):
    draft = factories.make_bill(biller, bill_number="INV-8")
    factories.put_on_bill(draft, Bag.objects.get(qr_id="SB00002"))
    finalised_bill_holding(biller, "SB00001")
    BillBag.objects.filter(parent_bag__qr_id="SB00001").update(
        returned_at=datetime.now(UTC), returned_on="RTN-20261203-0001"
    )

    out_of_returned = move(dispatcher, "C0000001", "SB00002")
    out_of_draft = move(dispatcher, "C0000003", "SB00001")

    assert (out_of_returned.body["code"], out_of_draft.body["code"]) == ("moved", "moved")


def test_a_repeated_move_returns_the_first_answer_and_moves_nothing_more(dispatcher, floor):
    scan_id = new_id()
    first = move(dispatcher, "C0000001", "SB00002", scan_id)
    move(dispatcher, "C0000001", "SB00001")  # moved back meanwhile

    again = move(dispatcher, "C0000001", "SB00002", scan_id)

    assert again.replayed and not first.replayed
    assert (again.status, again.body) == (first.status, first.body)
    assert holder("C0000001") == "SB00001"
    assert Scan.objects.filter(action=ScanAction.MOVE).count() == 2


def test_a_repeated_refused_move_returns_the_refusal(dispatcher, floor):
    scan_id = new_id()
    first = move(dispatcher, "C0000001", "SB00001", scan_id)

    again = move(dispatcher, "C0000001", "SB00002", scan_id)

    assert again.replayed and again.body == first.body
    assert first.body["code"] == "already_in_this_parent"
    assert holder("C0000001") == "SB00001"


# --- Undo of a move


def test_undo_of_a_move_puts_the_child_back_into_the_parent_it_left(dispatcher, floor):
    moved = move(dispatcher, "C0000001", "SB00002")

    answer = undo(dispatcher)

    assert answer.body["code"] == "undone"
    assert answer.body["message"] == "Undone: C0000001 moved back from SB00002 to SB00001 (2 of 30)."
    assert (answer.body["parent"]["qr_id"], answer.body["other_parent"]["qr_id"]) == ("SB00002", "SB00001")
    assert holder("C0000001") == "SB00001"
    assert counts("SB00001", "SB00002") == [2, 1]
    event = Scan.objects.get(action=ScanAction.UNDO)
    assert (event.bag_qr, event.parent_qr, event.reverts_id) == ("C0000001", "SB00002", moved.body["scan"]["id"])
    assert AuditLog.objects.filter(action=AuditAction.SCAN_UNDO).count() == 1


def test_undo_takes_back_the_last_of_a_link_and_a_move(clock, dispatcher, floor):
    move(dispatcher, "C0000001", "SB00002")
    services.scan_child(user=dispatcher, parent_code="SB00002", raw_code="C0000004", client_scan_id=new_id())

    first, second = undo(dispatcher), undo(dispatcher)

    assert "C0000004 taken out of SB00002" in first.body["message"]
    assert second.body["code"] == "already_undone"  # undo never walks further back than the last
    assert holder("C0000001") == "SB00002"


def test_undo_of_a_move_is_refused_when_the_parent_it_left_is_full(dispatcher, floor, mustard):
    move(dispatcher, "C0000001", "SB00002")
    mustard.capacity = 1
    mustard.save()

    answer = undo(dispatcher)

    assert (answer.body["code"], answer.body["message"]) == (
        "parent_full",
        "SB00001 is full (1 of 1): C0000001 cannot go back into it.",
    )
    assert holder("C0000001") == "SB00002"


def test_undo_of_a_move_out_of_a_parent_on_a_finalised_bill_is_refused(dispatcher, biller, floor):
    move(dispatcher, "C0000001", "SB00002")
    finalised_bill_holding(biller, "SB00002")

    answer = undo(dispatcher)

    assert answer.body["code"] == "on_finalised_bill"
    assert holder("C0000001") == "SB00002"


def test_undo_of_a_move_is_refused_when_the_child_was_moved_on_since(dispatcher, biller, floor):
    move(dispatcher, "C0000001", "SB00002")
    move(biller, "C0000001", "SB00001")

    answer = undo(dispatcher)

    assert (answer.body["code"], answer.body["message"]) == (
        "moved",
        "C0000001 is no longer in SB00002; nothing to undo.",
    )


def test_a_move_undone_leaves_the_bag_totals_as_they_were(clock, dispatcher, floor):
    BagTotals.objects.refresh()

    def linked() -> int:
        return BagTotals.objects.current(puts_in=PUTS_CHILD_IN, takes_out=TAKES_CHILD_OUT)[0].linked

    before = linked()
    move(dispatcher, "C0000001", "SB00002")
    after_move = linked()
    undo(dispatcher)
    after_undo = linked()
    scanned = services.scan_child(user=dispatcher, parent_code="SB00002", raw_code="C0000005", client_scan_id=new_id())
    assert scanned.body["code"] == "linked" and linked() == 4
    assert undo(dispatcher).body["code"] == "undone"

    assert before == after_move == after_undo == linked() == Link.objects.count() == 3


# --- The supervisor's unlink


def test_a_biller_unlinks_a_child_with_a_reason_audited(biller, floor, clock):
    clock.shift(days=40)  # any age

    answer = unlink(biller, "c0000001", reason="  Scanned into the wrong parent ")

    assert answer.status == 200
    assert answer.body["code"] == "unlinked"
    assert answer.body["message"] == "C0000001 taken out of SB00001 (1 of 30 left)."
    assert holder("C0000001") is None
    assert counts("SB00001") == [1]
    event = Scan.objects.get(action=ScanAction.UNLINK)
    assert (event.user, event.parent_qr, event.reason, event.dispatch_area) == (
        biller,
        "SB00001",
        "Scanned into the wrong parent",
        floor,
    )
    assert answer.body["scan"] == documented_event(event)
    entry = AuditLog.objects.get(action=AuditAction.LINK_DELETE)
    assert entry.after == {"reason": "Scanned into the wrong parent"}
    assert entry.object_repr == "C0000001 in SB00001"


def test_a_dispatcher_may_not_unlink(dispatcher, floor):
    answer = unlink(dispatcher, "C0000001")

    assert (answer.status, answer.body["code"]) == (403, "forbidden")
    assert holder("C0000001") == "SB00001"


@pytest.mark.parametrize("reason", [None, "", "   ", "x" * 201, 7])
def test_an_unlink_without_a_reason_is_refused_and_not_kept(biller, floor, reason):
    scan_id = new_id()
    with pytest.raises(services.ScanRefused) as refused:
        unlink(biller, "C0000001", reason=reason, scan_id=scan_id)

    assert (refused.value.code, refused.value.status) == ("reason_required", 400)
    assert not ScanReply.objects.filter(pk=scan_id).exists()
    assert unlink(biller, "C0000001", scan_id=scan_id).body["code"] == "unlinked"  # the same id, with a reason


def test_an_unlink_out_of_a_parent_on_a_finalised_bill_is_refused_naming_it(biller, floor):
    finalised_bill_holding(biller, "SB00001", number="INV-42")

    answer = unlink(biller, "C0000001")

    assert answer.body["code"] == "on_finalised_bill"
    assert "INV-42" in answer.body["message"]
    assert holder("C0000001") == "SB00001"


def test_an_unlink_of_a_child_in_no_parent_or_of_no_bag_is_refused(biller, floor):
    factories.make_child("C0000050")

    assert unlink(biller, "C0000050").body["code"] == "not_in_a_parent"
    assert unlink(biller, "C0000099").body["code"] == "unknown_bag"
    assert unlink(biller, "SB00001").body["code"] == "parent_where_child_expected"


def test_a_repeated_unlink_returns_the_first_answer_and_unlinks_nothing_more(biller, floor):
    scan_id = new_id()
    first = unlink(biller, "C0000001", scan_id=scan_id)
    services.scan_child(user=biller, parent_code="SB00002", raw_code="C0000001", client_scan_id=new_id())

    again = unlink(biller, "C0000001", scan_id=scan_id)

    assert again.replayed and again.body == first.body
    assert holder("C0000001") == "SB00002"
    assert Scan.objects.filter(action=ScanAction.UNLINK).count() == 1


def test_an_admin_unlink_names_the_reason_too(admin_user, floor):
    link = Link.objects.select_related("child").get(child__qr_id="C0000002")

    services.unlink_child(link=link, actor=admin_user, reason="Label was damaged")

    assert Scan.objects.get(action=ScanAction.UNLINK).reason == "Label was damaged"
    with pytest.raises(services.ScanRefused):
        services.unlink_child(link=Link.objects.get(child__qr_id="C0000001"), actor=admin_user, reason="")


# --- The device's time of a queued scan


def test_scans_sent_from_an_offline_queue_keep_the_devices_time(dispatcher, mustard, clock):
    scanned = clock.now - timedelta(hours=2)
    at = scanned.astimezone(UTC).isoformat().replace("+00:00", "Z")

    services.open_parent(user=dispatcher, raw_code="SB00001", client_scan_id=new_id(), scanned_at=at)
    services.scan_child(
        user=dispatcher, parent_code="SB00001", raw_code="C1234", client_scan_id=new_id(), scanned_at=at
    )
    services.open_parent(user=dispatcher, raw_code="SB00002", client_scan_id=new_id())
    move(dispatcher, "C1234", "SB00002", scanned_at=at)
    undo(dispatcher, scanned_at=at)
    services.complete_parent(user=dispatcher, parent_code="SB00001", client_scan_id=new_id(), scanned_at=at)

    kept = dict(Scan.objects.exclude(device_time=None).values_list("action", "device_time"))
    assert kept == {action: scanned for action in ["open_parent", "link", "move", "undo", "complete"]}
    # The server's time orders the events; the device's is only told.
    assert set(Scan.objects.values_list("created_at", flat=True)) == {clock.now}


@pytest.mark.parametrize("offset", [timedelta(minutes=6), timedelta(days=-31)])
def test_a_device_time_far_off_the_servers_is_ignored_and_the_scan_kept(dispatcher, mustard, clock, offset):
    at = (clock.now + offset).isoformat()

    answer = services.open_parent(user=dispatcher, raw_code="SB00001", client_scan_id=new_id(), scanned_at=at)

    assert answer.body["code"] == "parent_created"
    assert Scan.objects.get().device_time is None


@pytest.mark.parametrize("scanned_at", ["yesterday", "2026-11-20T10:00:00", "2026-13-40T10:00:00Z", 1700000000])
def test_a_scanned_at_that_is_no_time_with_an_offset_is_refused_and_not_kept(dispatcher, mustard, scanned_at):
    scan_id = new_id()
    with pytest.raises(services.ScanRefused) as refused:
        services.open_parent(user=dispatcher, raw_code="SB00001", client_scan_id=scan_id, scanned_at=scanned_at)

    assert (refused.value.code, refused.value.status) == ("bad_scanned_at", 400)
    assert not ScanReply.objects.exists() and not Scan.objects.exists()
