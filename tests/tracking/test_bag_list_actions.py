"""The admins' bulk actions on bags: delete empty parents (a delete scan event with the reason and an audit
before-snapshot each; all or nothing) and change the area (a parent with its children; audited), from the bag
list (tick boxes, a confirm page) and as Django admin actions on Bag."""

import uuid
from collections import Counter

import pytest
from django.contrib.admin import helpers
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from audit.choices import AuditAction
from audit.models import AuditLog
from bags.models import Bag
from bills.models import BillBag
from scanning import services as scanning
from scanning.models import Scan, ScanAction
from tests import factories
from tests.concurrency import all_at_once
from tracking import bag_actions
from tracking.bag_actions import BagActionRefused

ACTION = reverse("tracking:bag-action")


@pytest.fixture
def yard(db, admin_user, area, mustard):
    """SB00001 and SB00002 empty, SB00003 holding C000001, SB00004 on a draft bill, SB00005 returned from a
    finalised bill, a loose C000002; all in ``area``."""
    biller = factories.make_user("biller-actions", role=Role.BILLER)
    parents = {code: factories.make_parent(code, dispatch_area=area) for code in [f"SB0000{n}" for n in range(1, 6)]}
    factories.link(parents["SB00003"], factories.make_child("C000001", dispatch_area=area))
    factories.make_child("C000002", dispatch_area=area)
    factories.put_on_bill(factories.make_bill(biller, bill_number="DRAFT-1"), parents["SB00004"])
    BillBag.objects.create(
        bill=factories.make_bill(biller, bill_number="DONE-1"),
        parent_bag=parents["SB00005"],
        frozen_child_count=0,
        frozen_capacity=30,
        frozen_child_weight_kg=1,
        frozen_child_codes=[],
        returned_at=timezone.now(),
        returned_on="RTN-20261201-0001",
    )
    return {"admin": admin_user, "area": area, "other": factories.make_area("Area B"), "biller": biller}


def codes_left(*codes: str) -> set[str]:
    return set(Bag.objects.filter(qr_id__in=codes).values_list("qr_id", flat=True))


@pytest.mark.django_db
def test_empty_parents_are_deleted_with_a_delete_event_and_a_before_snapshot(yard):
    ids = dict(Bag.objects.filter(qr_id__in=["SB00001", "SB00002"]).values_list("qr_id", "pk"))

    count = bag_actions.delete_empty_parents(
        user=yard["admin"], codes=["sb00001", "SB00002"], reason="  wrong   label "
    )

    assert count == 2 and codes_left("SB00001", "SB00002") == set()
    events = Scan.objects.filter(action=ScanAction.DELETE).order_by("bag_qr")
    assert [(e.bag_qr, e.bag_id, e.reason, e.user, e.dispatch_area) for e in events] == [
        (code, ids[code], "wrong label", yard["admin"], yard["area"]) for code in ("SB00001", "SB00002")
    ]
    entries = AuditLog.objects.filter(action=AuditAction.BAG_DELETE).order_by("object_repr")
    assert [entry.object_repr for entry in entries] == ["SB00001", "SB00002"]
    assert entries[0].before["qr_id"] == "SB00001" and entries[0].before["kind"] == "parent"
    assert entries[0].after == {"reason": "wrong label"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("SB00003", "SB00003 holds 1 children"),
        ("SB00004", "SB00004 is on bill DRAFT-1"),
        ("SB00005", "SB00005 is on bill DONE-1 (returned on RTN-20261201-0001)"),
        ("C000002", "C000002 is a child bag: delete it from its own page"),
    ],
)
def test_a_bag_that_is_not_an_empty_parent_refuses_the_whole_deletion(yard, code, why):
    with pytest.raises(BagActionRefused) as refusal:
        bag_actions.delete_empty_parents(user=yard["admin"], codes=["SB00001", code], reason="wrong")

    assert refusal.value.code == "not_empty_parents"
    assert refusal.value.message == f"Nothing was deleted: {why}."
    assert codes_left("SB00001", code) == {"SB00001", code}
    assert not Scan.objects.filter(action=ScanAction.DELETE).exists()
    assert not AuditLog.objects.filter(action=AuditAction.BAG_DELETE).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("codes", "reason", "code"),
    [
        ([], "wrong", "no_bags"),
        (["SB00001"], "   ", "reason_required"),
        ([f"SB{n:05d}" for n in range(bag_actions.MAX_BAGS + 1)], "wrong", "too_many_bags"),
    ],
)
def test_a_deletion_needs_bags_a_reason_and_at_most_a_hundred(yard, codes, reason, code):
    with pytest.raises(BagActionRefused) as refusal:
        bag_actions.delete_empty_parents(user=yard["admin"], codes=codes, reason=reason)

    assert refusal.value.code == code


@pytest.mark.django_db
def test_a_bag_gone_meanwhile_refuses_the_action_by_name(yard):
    with pytest.raises(BagActionRefused) as refusal:
        bag_actions.delete_empty_parents(user=yard["admin"], codes=["SB00001", "SB09999"], reason="wrong")

    assert refusal.value.message == "Nothing was done: no bag SB09999 (any more)."
    assert codes_left("SB00001") == {"SB00001"}


@pytest.mark.django_db
def test_a_parent_changes_area_with_its_children_and_is_audited(yard):
    named, children = bag_actions.change_area(user=yard["admin"], codes=["SB00003", "C000002"], area=yard["other"])

    assert (named, children) == (2, 1)
    areas = dict(Bag.objects.filter(qr_id__in=["SB00003", "C000001", "C000002"]).values_list("qr_id", "dispatch_area"))
    assert areas == {"SB00003": yard["other"].pk, "C000001": yard["other"].pk, "C000002": yard["other"].pk}
    entry = AuditLog.objects.get(action=AuditAction.BAG_CHANGE, object_repr="SB00003")
    assert entry.before == {"dispatch_area": yard["area"].code}
    assert entry.after == {"dispatch_area": yard["other"].code, "children_moved": 1}


@pytest.mark.django_db
def test_a_child_in_a_parent_keeps_its_parents_area(yard):
    with pytest.raises(BagActionRefused) as refusal:
        bag_actions.change_area(user=yard["admin"], codes=["SB00001", "C000001"], area=yard["other"])

    assert refusal.value.message == "Nothing was moved: C000001 is in parent SB00003: a child has its parent's area."
    assert Bag.objects.get(qr_id="SB00001").dispatch_area == yard["area"]


@pytest.mark.django_db
def test_bags_already_in_the_area_are_said_to_be(yard):
    with pytest.raises(BagActionRefused) as refusal:
        bag_actions.change_area(user=yard["admin"], codes=["SB00001"], area=yard["area"])

    assert refusal.value.code == "same_area"


@pytest.mark.django_db
def test_the_list_asks_first_and_names_what_goes(admin_client, yard):
    back = "kind=parent&sort=code"
    page = admin_client.post(
        ACTION, {"action": "delete", "bag": ["SB00001", "SB00002"], "reason": "typo", "back": back}
    )

    html = page.content.decode()
    assert page.status_code == 200 and "Delete these empty parents?" in html
    assert "SB00001" in html and "SB00002" in html and "Delete 2" in html
    assert codes_left("SB00001", "SB00002") == {"SB00001", "SB00002"}

    done = admin_client.post(
        ACTION, {"action": "delete", "bag": ["SB00001", "SB00002"], "reason": "typo", "back": back, "confirmed": "on"}
    )
    assert done.status_code == 302 and done["Location"] == reverse("tracking:bag-list") + "?" + back
    assert codes_left("SB00001", "SB00002") == set()
    assert "Deleted 2 empty parents." in admin_client.get(done["Location"]).content.decode()


@pytest.mark.django_db
def test_the_confirm_page_says_what_keeps_bags_and_offers_no_button(admin_client, yard):
    html = admin_client.post(
        ACTION, {"action": "delete", "bag": ["SB00001", "SB00004"], "reason": "x"}
    ).content.decode()

    assert "SB00004 is on bill DRAFT-1" in html
    assert "Delete 2" not in html


@pytest.mark.django_db
def test_the_list_moves_bags_to_another_area_after_a_confirm(admin_client, yard):
    form = {"action": "area", "bag": ["SB00003"], "area": yard["other"].code}
    assert "with its 1 children" in admin_client.post(ACTION, form).content.decode()

    admin_client.post(ACTION, {**form, "confirmed": "on"})

    assert Bag.objects.get(qr_id="C000001").dispatch_area == yard["other"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"action": "delete", "bag": ["SB00001"]}, "Say why these bags are deleted."),
        ({"action": "area", "bag": ["SB00001"]}, "Pick the area the bags go to."),
        ({"action": "delete", "reason": "x"}, "Tick the bags first."),
    ],
)
def test_an_incomplete_action_goes_back_to_the_list_saying_why(admin_client, yard, form, message):
    response = admin_client.post(ACTION, form, follow=True)

    assert message in response.content.decode()
    assert codes_left("SB00001") == {"SB00001"}


@pytest.mark.django_db
def test_the_list_shows_the_tick_boxes_to_admins_only(admin_client, yard):
    html = admin_client.get(reverse("tracking:bag-list")).content.decode()
    assert 'name="bag" value="SB00001"' in html and 'id="bag-action-fields"' in html

    biller = Client()
    biller.force_login(yard["biller"])
    assert 'name="bag"' not in biller.get(reverse("tracking:bag-list")).content.decode()
    assert biller.post(ACTION, {"action": "delete", "bag": ["SB00001"], "reason": "x"}).status_code == 403


def admin_action(client, action: str, codes: list[str], **extra):
    ids = list(Bag.objects.filter(qr_id__in=codes).values_list("pk", flat=True))
    data = {"action": action, helpers.ACTION_CHECKBOX_NAME: ids, **extra}
    return client.post(reverse("admin:bags_bag_changelist"), data, follow=True)


@pytest.mark.django_db
def test_the_admins_delete_action_confirms_then_deletes(admin_client, yard):
    first = admin_action(admin_client, "delete_empty_parents", ["SB00001", "SB00002"])
    assert "Yes, delete them" in first.content.decode()
    assert codes_left("SB00001", "SB00002") == {"SB00001", "SB00002"}

    done = admin_action(admin_client, "delete_empty_parents", ["SB00001", "SB00002"], confirmed="yes", reason="typo")

    assert "Deleted 2 empty parents." in done.content.decode()
    assert codes_left("SB00001", "SB00002") == set()
    assert set(Scan.objects.filter(action=ScanAction.DELETE).values_list("reason", flat=True)) == {"typo"}


@pytest.mark.django_db
def test_the_admins_delete_action_names_what_keeps_a_bag(admin_client, yard):
    html = admin_action(admin_client, "delete_empty_parents", ["SB00001", "SB00003"]).content.decode()

    assert "SB00003 holds 1 children" in html and "Yes, delete them" not in html


@pytest.mark.django_db
def test_the_admins_actions_take_at_most_a_hundred_bags(admin_client, yard, monkeypatch):
    monkeypatch.setattr(bag_actions, "MAX_BAGS", 2)

    html = admin_action(admin_client, "delete_empty_parents", ["SB00001", "SB00002", "C000002"]).content.decode()

    assert "Pick at most 2 bags for one action." in html
    assert codes_left("SB00001", "SB00002") == {"SB00001", "SB00002"}


@pytest.mark.django_db
def test_the_admins_area_action_takes_the_area_from_the_action_bar(admin_client, yard):
    done = admin_action(admin_client, "change_area", ["SB00003"], area=yard["other"].pk)

    assert "Moved 1 bags to Area B, with the 1 children in them." in done.content.decode()
    assert Bag.objects.get(qr_id="C000001").dispatch_area == yard["other"]
    missing = admin_action(admin_client, "change_area", ["SB00001"])
    assert "Pick the area in the action bar first." in missing.content.decode()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_scan_racing_the_deletion_of_its_parent_either_fills_it_or_finds_it_gone(wide_pool):
    admin = factories.make_user("admin-race", role=Role.ADMIN)
    area = factories.make_area()
    dispatcher = factories.make_user("dispatcher-race", area=area)
    for round_number in range(5):  # the race goes either way; each way must end whole
        parent = f"SB9{round_number:04d}"
        factories.make_parent(parent, dispatch_area=area)

        def delete(parent=parent):
            try:
                return bag_actions.delete_empty_parents(user=admin, codes=[parent], reason="race")
            except BagActionRefused as refusal:
                return refusal.code

        def scan(parent=parent, n=round_number):
            answer = scanning.scan_child(
                user=dispatcher, parent_code=parent, raw_code=f"CR{n:06d}", client_scan_id=str(uuid.uuid4())
            )
            return answer.status

        deleted, scanned = all_at_once([delete, scan])

        if deleted == 1:  # the deletion went first: the scan found no parent to put the child into
            assert scanned >= 400 and not Bag.objects.filter(qr_id=parent).exists()
        else:  # the scan went first: the parent holds its child and was kept
            assert deleted == "not_empty_parents" and scanned == 200
            assert Bag.objects.get(qr_id=parent).child_count == 1
    assert Counter(Scan.objects.filter(action=ScanAction.DELETE).values_list("reason", flat=True)) in (
        Counter(),
        Counter({"race": Scan.objects.filter(action=ScanAction.DELETE).count()}),
    )
