"""The scan loop's rules (scanning.services): every refusal, capacity, exactly-once repeats, undo."""

import json
import uuid

import pytest

from audit.choices import AuditAction
from audit.models import AuditLog
from bags.managers import forget_parent_formats
from bags.models import Bag, Link, Product
from scanning import services
from scanning.models import Scan, ScanAction, ScanReply
from scanning.services import ScanRefused
from tests import factories
from tests.scanning.events import documented_event


def new_id() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def dispatcher(area):
    return factories.make_user("disp", area=area)


def open_parent(user, code, scan_id=None):
    return services.open_parent(user=user, raw_code=code, client_scan_id=scan_id or new_id())


def scan_child(user, parent, code, scan_id=None):
    return services.scan_child(user=user, parent_code=parent, raw_code=code, client_scan_id=scan_id or new_id())


def changes(*models):
    """Row counts of the scan loop's tables, to show a refusal wrote nothing but its kept answer."""
    return {model.__name__: model.objects.count() for model in models or (Bag, Link, Scan)}


def test_new_parent_is_created_in_the_dispatchers_area(dispatcher, mustard):
    answer = open_parent(dispatcher, "  sb12345 ")

    assert answer.status == 200
    assert answer.body["code"] == "parent_created"
    assert answer.body["parent"] == {
        "qr_id": "SB12345",
        "product": "Mustard",
        "child_count": 0,
        "capacity": 30,
        "complete": False,
        "full": False,
    }
    parent = Bag.objects.get(qr_id="SB12345")
    assert (parent.kind, parent.product, parent.dispatch_area, parent.created_by) == (
        "parent",
        mustard,
        dispatcher.dispatch_area,
        dispatcher,
    )
    event = Scan.objects.get()
    assert (event.action, event.bag, event.parent, event.user) == (ScanAction.OPEN_PARENT, parent, parent, dispatcher)
    assert answer.body["scan"]["id"] == event.pk


def test_existing_parent_is_opened_with_its_count(dispatcher, moong):
    parent = factories.make_parent("M444-00007", product_code="moong", dispatch_area=dispatcher.dispatch_area)
    for _ in range(4):
        factories.link(parent, factories.make_child())

    answer = open_parent(dispatcher, "m444-00007")

    assert answer.body["code"] == "parent_opened"
    assert answer.body["parent"]["child_count"] == 4
    assert Bag.objects.filter(kind="parent").count() == 1


def test_child_scan_links_counts_and_records(dispatcher, mustard):
    open_parent(dispatcher, "SB00001")

    answer = scan_child(dispatcher, "SB00001", "c0000001")

    assert answer.status == 200
    assert answer.body["code"] == "linked"
    assert answer.body["message"] == "C0000001 added to SB00001: 1 of 30."
    parent = Bag.objects.get(qr_id="SB00001")
    child = Bag.objects.get(qr_id="C0000001")
    assert (child.kind, child.dispatch_area, child.created_by) == ("child", dispatcher.dispatch_area, dispatcher)
    assert Link.objects.get().parent == parent
    assert parent.child_count == 1
    event = Scan.objects.get(action=ScanAction.LINK)
    assert (event.bag, event.parent, event.bag_qr, event.parent_qr) == (child, parent, "C0000001", "SB00001")
    assert answer.body["scan"] == documented_event(event)


def test_existing_unlinked_child_is_linked(dispatcher, mustard):
    child = factories.make_child("OLDCHILD1")
    open_parent(dispatcher, "SB00001")

    scan_child(dispatcher, "SB00001", "oldchild1")

    assert Link.objects.get().child == child
    assert Bag.objects.filter(kind="child").count() == 1


@pytest.mark.parametrize(
    ("code", "refusal"),
    [
        ("", "empty"),
        ("AB", "too_short"),
        ("C" * 21, "too_long"),
        ("C12 345", "bad_characters"),
        ("M444-1234", "bad_parent_format"),
        ("SB12345", "parent_where_child_expected"),
        ("-ABC123", "bad_format"),
    ],
)
def test_malformed_child_codes_are_refused_and_change_nothing(dispatcher, mustard, code, refusal):
    open_parent(dispatcher, "SB00001")
    before = changes()

    answer = scan_child(dispatcher, "SB00001", code)

    assert answer.status == 422
    assert answer.body["ok"] is False
    assert answer.body["code"] == refusal
    assert answer.body["message"]
    assert changes() == before


def test_child_code_where_parent_expected_is_refused(dispatcher, mustard):
    answer = open_parent(dispatcher, "C0000001")

    assert (answer.status, answer.body["code"]) == (422, "child_where_parent_expected")
    assert Bag.objects.count() == 0


def test_child_in_another_parent_is_refused_naming_it(dispatcher, mustard):
    other = factories.make_parent("SB00002", dispatch_area=dispatcher.dispatch_area)
    factories.link(other, factories.make_child("C0000001"))
    open_parent(dispatcher, "SB00001")
    before = changes()

    answer = scan_child(dispatcher, "SB00001", "C0000001")

    assert (answer.status, answer.body["code"]) == (409, "child_in_other_parent")
    assert "SB00002" in answer.body["message"]
    assert answer.body["parent"]["child_count"] == 0
    assert changes() == before
    assert Link.objects.get().parent == other


def test_child_in_another_areas_parent_is_refused_without_naming_that_parent(dispatcher, mustard):
    elsewhere = factories.make_area("Godown 2")
    theirs = factories.make_parent("SB33418", dispatch_area=elsewhere)
    factories.link(theirs, factories.make_child("C0000001", dispatch_area=elsewhere))
    open_parent(dispatcher, "SB00001")
    scan_id = new_id()
    before = changes()

    answer = scan_child(dispatcher, "SB00001", "C0000001", scan_id)

    assert (answer.status, answer.body["code"]) == (409, "child_in_other_parent")
    assert "C0000001 is already in a parent of another dispatch area" in answer.body["message"]
    assert answer.body["parent"]["qr_id"] == "SB00001"
    # Nowhere in the answer (nor in the one kept for a repeat): not the code, not that parent's state.
    assert "SB33418" not in json.dumps(answer.body)
    assert ScanReply.objects.get(pk=scan_id).body == answer.body
    assert changes() == before


@pytest.mark.parametrize("role", ["biller", "admin"])
def test_billers_and_admins_are_told_which_parent_of_another_area_holds_the_child(dispatcher, mustard, role):
    elsewhere = factories.make_area("Godown 2")
    factories.link(factories.make_parent("SB33418", dispatch_area=elsewhere), factories.make_child("C0000001"))
    open_parent(dispatcher, "SB00001")

    answer = scan_child(factories.make_user(role=role), "SB00001", "C0000001")

    assert (answer.status, answer.body["code"]) == (409, "child_in_other_parent")
    assert "already in parent SB33418" in answer.body["message"]


@pytest.mark.parametrize("role", ["dispatcher", "biller"])
def test_a_loose_child_of_another_area_takes_the_area_of_the_parent_it_goes_into(dispatcher, mustard, role):
    first_seen = factories.make_area("Godown 2")
    child = factories.make_child("C0000001", dispatch_area=first_seen)
    open_parent(dispatcher, "SB00001")
    user = dispatcher if role == "dispatcher" else factories.make_user(role=role)

    answer = scan_child(user, "SB00001", "C0000001")

    assert answer.body["code"] == "linked"
    child.refresh_from_db()
    assert child.dispatch_area == dispatcher.dispatch_area
    assert child.updated_at == Scan.objects.get(action=ScanAction.LINK).created_at


def test_an_undone_child_keeps_the_area_of_the_parent_it_left(dispatcher, mustard):
    factories.make_child("C0000001", dispatch_area=factories.make_area("Godown 2"))
    open_parent(dispatcher, "SB00001")
    scan_child(dispatcher, "SB00001", "C0000001")

    services.undo_last_scan(user=dispatcher, client_scan_id=new_id())

    assert not Link.objects.exists()
    assert Bag.objects.get(qr_id="C0000001").dispatch_area == dispatcher.dispatch_area


def test_child_already_in_this_parent_is_a_harmless_duplicate(dispatcher, mustard):
    open_parent(dispatcher, "SB00001")
    scan_child(dispatcher, "SB00001", "C0000001")
    before = changes()

    answer = scan_child(dispatcher, "SB00001", "C0000001")

    assert (answer.status, answer.body["code"]) == (409, "already_in_this_parent")
    assert "Nothing changed" in answer.body["message"]
    assert changes() == before
    assert Bag.objects.get(qr_id="SB00001").child_count == 1


def test_parent_fills_to_capacity_and_then_refuses(dispatcher, mustard):
    mustard.capacity = 3
    mustard.save()
    open_parent(dispatcher, "SB00001")

    answers = [scan_child(dispatcher, "SB00001", f"C000000{n}") for n in range(1, 4)]
    refused = scan_child(dispatcher, "SB00001", "C0000009")

    assert [a.body["parent"]["child_count"] for a in answers] == [1, 2, 3]
    assert answers[-1].body["parent"]["full"] is True
    assert "now full" in answers[-1].body["message"]
    parent = Bag.objects.with_completion().get(qr_id="SB00001")
    assert (parent.child_count, parent.full, parent.complete) == (3, True, True)
    assert parent.completed_at is None  # full, not marked by anyone
    assert (refused.status, refused.body["code"]) == (409, "parent_full")
    assert not Bag.objects.filter(qr_id="C0000009").exists()


def test_parent_marked_complete_refuses_more_children(dispatcher, mustard):
    open_parent(dispatcher, "SB00001")
    scan_child(dispatcher, "SB00001", "C0000001")

    done = services.complete_parent(user=dispatcher, parent_code="sb00001", client_scan_id=new_id())
    refused = scan_child(dispatcher, "SB00001", "C0000002")

    assert done.body["code"] == "completed"
    assert done.body["parent"]["complete"] is True
    assert Scan.objects.filter(action=ScanAction.COMPLETE).count() == 1
    assert (refused.status, refused.body["code"]) == (409, "parent_complete")
    assert Link.objects.count() == 1


def test_unknown_parent_is_refused(dispatcher, mustard):
    answer = scan_child(dispatcher, "SB00404", "C0000001")

    assert (answer.status, answer.body["code"]) == (404, "unknown_parent")
    assert Bag.objects.count() == 0


def test_dispatcher_cannot_scan_into_another_areas_parent(dispatcher, mustard):
    elsewhere = factories.make_area("Godown 2")
    factories.make_parent("SB00001", dispatch_area=elsewhere)
    before = changes()

    opened = open_parent(dispatcher, "SB00001")
    scanned = scan_child(dispatcher, "SB00001", "C0000001")

    for answer in (opened, scanned):
        assert (answer.status, answer.body["code"]) == (403, "not_your_area")
        assert "Godown 2" in answer.body["message"]
    assert changes() == before


def test_biller_may_scan_in_any_area(mustard):
    biller = factories.make_user("biller", role="biller")
    factories.make_parent("SB00001", dispatch_area=factories.make_area())

    answer = scan_child(biller, "SB00001", "C0000001")

    assert answer.body["code"] == "linked"


def test_inactive_product_takes_no_new_parents(dispatcher, mustard):
    mustard.is_active = False
    mustard.save()

    answer = open_parent(dispatcher, "SB00001")

    assert (answer.status, answer.body["code"]) == (409, "product_inactive")
    assert Bag.objects.count() == 0


def test_repeated_client_scan_id_returns_first_answer_and_writes_nothing(dispatcher, mustard):
    open_parent(dispatcher, "SB00001")
    scan_id = new_id()
    first = scan_child(dispatcher, "SB00001", "C0000001", scan_id)
    before = changes(Bag, Link, Scan, ScanReply)

    again = scan_child(dispatcher, "SB00001", "C0000001", scan_id)

    assert again.replayed is True
    assert (again.status, again.body) == (first.status, first.body)
    assert changes(Bag, Link, Scan, ScanReply) == before
    assert Bag.objects.get(qr_id="SB00001").child_count == 1


def test_repeated_id_of_a_refusal_returns_the_refusal_even_after_things_change(dispatcher, mustard):
    other = factories.make_parent("SB00002", dispatch_area=dispatcher.dispatch_area)
    first_link = factories.link(other, factories.make_child("C0000001"))
    open_parent(dispatcher, "SB00001")
    scan_id = new_id()
    first = scan_child(dispatcher, "SB00001", "C0000001", scan_id)
    first_link.delete()  # the child is free now, but this physical scan was already answered

    again = scan_child(dispatcher, "SB00001", "C0000001", scan_id)

    assert again.replayed is True
    assert (again.status, again.body["code"]) == (first.status, "child_in_other_parent")
    assert Link.objects.count() == 0


def test_replay_of_an_open_parent_writes_nothing(dispatcher, mustard):
    scan_id = new_id()
    first = open_parent(dispatcher, "SB00001", scan_id)

    again = open_parent(dispatcher, "SB00001", scan_id)

    assert again.replayed and again.body == first.body
    assert Scan.objects.count() == 1


def test_a_new_parent_refused_for_want_of_an_area_is_answered_the_same_when_repeated(biller, area, mustard):
    scan_id = new_id()
    first = services.open_parent(user=biller, raw_code="SB00001", client_scan_id=scan_id)

    # The same physical scan (a retry, a replay) gets the same answer, even with an area now: only a new
    # scan of the parent, with a new id, makes it.
    again = services.open_parent(user=biller, raw_code="SB00001", client_scan_id=scan_id, area_id=area.pk)
    made = services.open_parent(user=biller, raw_code="SB00001", client_scan_id=new_id(), area_id=area.pk)

    assert (first.status, first.body["code"]) == (422, "area_required")
    assert again.replayed and again.body == first.body
    assert (made.status, made.body["code"]) == (200, "parent_created")
    assert Bag.objects.get(qr_id="SB00001").dispatch_area == area
    assert Scan.objects.get().user == biller


def test_someone_elses_client_scan_id_is_refused_and_not_kept(dispatcher, mustard):
    scan_id = new_id()
    open_parent(dispatcher, "SB00001", scan_id)
    intruder = factories.make_user(area=dispatcher.dispatch_area)

    with pytest.raises(ScanRefused) as refusal:
        open_parent(intruder, "SB00001", scan_id)

    assert refusal.value.code == "client_scan_id_taken"
    assert ScanReply.objects.count() == 1


@pytest.mark.parametrize("scan_id", [None, "", "short", "x" * 65, "has space in it", 12345678])
def test_missing_or_malformed_client_scan_id_is_refused(dispatcher, mustard, scan_id):
    with pytest.raises(ScanRefused) as refusal:
        services.open_parent(user=dispatcher, raw_code="SB00001", client_scan_id=scan_id)

    assert (refusal.value.code, refusal.value.status) == ("bad_client_scan_id", 400)
    assert Bag.objects.count() == 0


def test_undo_takes_back_own_last_child_scan(dispatcher, mustard):
    open_parent(dispatcher, "SB00001")
    scan_child(dispatcher, "SB00001", "C0000001")
    last = scan_child(dispatcher, "SB00001", "C0000002")

    answer = services.undo_last_scan(user=dispatcher, client_scan_id=new_id())

    assert answer.body["code"] == "undone"
    assert answer.body["parent"]["child_count"] == 1
    assert answer.body["scan"]["reverts"] == last.body["scan"]["id"]
    assert list(Link.objects.values_list("child__qr_id", flat=True)) == ["C0000001"]
    assert Bag.objects.get(qr_id="SB00001").child_count == 1
    undo = Scan.objects.get(action=ScanAction.UNDO)
    assert undo.reverts_id == last.body["scan"]["id"]
    entry = AuditLog.objects.get(action=AuditAction.SCAN_UNDO)
    assert entry.actor == dispatcher
    assert entry.before["child"] == Bag.objects.get(qr_id="C0000002").pk


def test_undo_of_a_full_parent_reopens_it(dispatcher, mustard):
    mustard.capacity = 1
    mustard.save()
    open_parent(dispatcher, "SB00001")
    scan_child(dispatcher, "SB00001", "C0000001")

    services.undo_last_scan(user=dispatcher, client_scan_id=new_id())

    parent = Bag.objects.with_completion().get(qr_id="SB00001")
    assert (parent.child_count, parent.complete) == (0, False)


def test_undo_twice_does_not_walk_back_further(dispatcher, mustard):
    open_parent(dispatcher, "SB00001")
    scan_child(dispatcher, "SB00001", "C0000001")
    scan_child(dispatcher, "SB00001", "C0000002")
    services.undo_last_scan(user=dispatcher, client_scan_id=new_id())

    again = services.undo_last_scan(user=dispatcher, client_scan_id=new_id())

    assert (again.status, again.body["code"]) == (409, "already_undone")
    assert Link.objects.count() == 1


def test_repeated_undo_id_undoes_once(dispatcher, mustard):
    open_parent(dispatcher, "SB00001")
    scan_child(dispatcher, "SB00001", "C0000001")
    scan_id = new_id()

    first = services.undo_last_scan(user=dispatcher, client_scan_id=scan_id)
    again = services.undo_last_scan(user=dispatcher, client_scan_id=scan_id)

    assert again.replayed and again.body == first.body
    assert Scan.objects.filter(action=ScanAction.UNDO).count() == 1


def test_undo_after_an_hour_is_refused(dispatcher, mustard, clock):
    open_parent(dispatcher, "SB00001")
    scan_child(dispatcher, "SB00001", "C0000001")
    clock.shift(hours=1, seconds=1)

    answer = services.undo_last_scan(user=dispatcher, client_scan_id=new_id())

    assert (answer.status, answer.body["code"]) == (409, "undo_too_late")
    assert Link.objects.count() == 1


def test_undo_just_inside_the_hour_is_allowed(dispatcher, mustard, clock):
    open_parent(dispatcher, "SB00001")
    scan_child(dispatcher, "SB00001", "C0000001")
    clock.shift(hours=1)  # an hour to the second is still inside it

    answer = services.undo_last_scan(user=dispatcher, client_scan_id=new_id())

    assert answer.body["code"] == "undone"


def test_undo_with_nothing_scanned_is_refused(dispatcher):
    answer = services.undo_last_scan(user=dispatcher, client_scan_id=new_id())

    assert (answer.status, answer.body["code"]) == (404, "nothing_to_undo")


def test_undo_of_a_child_moved_since_is_refused(dispatcher, mustard):
    open_parent(dispatcher, "SB00001")
    scan_child(dispatcher, "SB00001", "C0000001")
    Link.objects.all().delete()
    Bag.objects.filter(qr_id="SB00001").update(child_count=0)

    answer = services.undo_last_scan(user=dispatcher, client_scan_id=new_id())

    assert (answer.status, answer.body["code"]) == (409, "moved")


def test_only_admins_undo_a_named_scan(dispatcher, admin_user, mustard, clock):
    open_parent(dispatcher, "SB00001")
    target = scan_child(dispatcher, "SB00001", "C0000001").body["scan"]["id"]
    clock.shift(days=3)
    colleague = factories.make_user(area=dispatcher.dispatch_area)

    refused = services.undo_last_scan(user=colleague, client_scan_id=new_id(), scan_id=target)
    done = services.undo_last_scan(user=admin_user, client_scan_id=new_id(), scan_id=target)

    assert (refused.status, refused.body["code"]) == (403, "forbidden")
    assert done.body["code"] == "undone"
    assert Link.objects.count() == 0
    assert Scan.objects.get(action=ScanAction.UNDO).user == admin_user


def test_complete_of_another_areas_parent_is_refused(dispatcher, mustard):
    factories.make_parent("SB00001", dispatch_area=factories.make_area())

    answer = services.complete_parent(user=dispatcher, parent_code="SB00001", client_scan_id=new_id())

    assert (answer.status, answer.body["code"]) == (403, "not_your_area")
    assert Bag.objects.get(qr_id="SB00001").completed_at is None


def test_parent_code_of_a_product_added_a_moment_ago_never_becomes_a_child(dispatcher, mustard):
    open_parent(dispatcher, "SB00001")
    Product.objects.parent_formats()  # this process now holds the formats for a few seconds
    # Added without telling this process (as from another worker's admin): its formats are now stale.
    Product.objects.create(code="chana", name="Chana", parent_prefix="CH", parent_digits=5)

    answer = scan_child(dispatcher, "SB00001", "CH12345")

    assert (answer.status, answer.body["code"]) == (422, "parent_where_child_expected")
    assert not Bag.objects.filter(qr_id="CH12345").exists()
    forget_parent_formats()
