"""Deleting a wrong bag (tracking.services, the bag page's confirm page, the bag admin's action): a child, or a
parent with its children; refused while the parent (or a child's parent) is on a bill, naming it; a delete
event per bag, the story kept; one audit entry with every row as it was."""

import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from audit.choices import AuditAction
from audit.models import AuditLog
from bags.models import Bag
from bills import services as bills
from bills.models import BillBag
from scanning import services as scanning
from scanning.models import Scan, ScanAction
from tests import factories
from tracking import services, story
from tracking.error_codes import DeleteRefusal
from traitortrack.errors import Refused

pytestmark = pytest.mark.django_db


@pytest.fixture
def packed(mustard, admin_user):
    """SB00001 holding C0000001 and C0000002; SB00002 holding C0000003, on bill INV-1; a loose L0000001."""
    biller = factories.make_user("del-biller", role=Role.BILLER)
    area = factories.make_area()
    for parent, children in (("SB00001", ["C0000001", "C0000002"]), ("SB00002", ["C0000003"])):
        scanning.open_parent(user=biller, raw_code=parent, client_scan_id=uuid.uuid4().hex, area_id=area.pk)
        for child in children:
            scanning.scan_child(user=biller, parent_code=parent, raw_code=child, client_scan_id=uuid.uuid4().hex)
    bill = factories.make_bill(biller, bill_number="INV-1")
    bills.add_parent(user=biller, bill_id=bill.pk, raw_code="SB00002")
    factories.make_child("L0000001")
    return {"admin": admin_user, "biller": biller, "bill": bill}


def codes() -> set[str]:
    return set(Bag.objects.values_list("qr_id", flat=True))


def test_a_parent_goes_with_its_children_each_with_a_delete_event_and_one_audit_entry(packed):
    parent_id = Bag.objects.get(qr_id="SB00001").pk

    deletion = services.delete_bag(user=packed["admin"], code="sb00001", reason="printed twice")

    assert [child.qr_id for child in deletion.children] == ["C0000001", "C0000002"]
    assert codes() == {"SB00002", "C0000003", "L0000001"}
    events = Scan.objects.filter(action=ScanAction.DELETE).order_by("pk")
    assert [(e.bag_qr, e.parent_qr, e.reason) for e in events] == [
        ("C0000001", "SB00001", "printed twice"),
        ("C0000002", "SB00001", "printed twice"),
        ("SB00001", "", "printed twice"),
    ]
    entry = AuditLog.objects.get(action=AuditAction.BAG_DELETE)
    assert entry.object_id == str(parent_id) and entry.before["bag"]["qr_id"] == "SB00001"
    assert [child["qr_id"] for child in entry.before["children"]] == ["C0000001", "C0000002"]
    assert entry.after == {"reason": "printed twice"}
    # The events stay: the link scans are still there, the story of the deleted code is whole.
    assert Scan.objects.filter(bag_qr="C0000001", action=ScanAction.LINK).exists()


def test_a_child_leaves_its_parent_whose_story_says_so(packed):
    services.delete_bag(user=packed["admin"], code="C0000002", reason="not ours")

    parent = Bag.objects.get(qr_id="SB00001")
    assert parent.child_count == 1
    texts = [story.sentence(e, bag_qr="SB00001") for e in story.timeline("SB00001", restricted=False, area_id=None)]
    assert texts[0] == "C0000002 deleted (not ours)"
    assert [
        c.qr_id
        for c in story.as_of(
            "SB00001", kind="parent", created_at=parent.created_at, at=timezone.now(), restricted=False, area_id=None
        ).children
    ] == ["C0000001"]


@pytest.mark.parametrize(
    ("code", "message"),
    [("SB00002", "SB00002 is on bill INV-1"), ("C0000003", "C0000003 is in SB00002 is on bill INV-1")],
)
def test_a_bag_on_a_bill_or_in_a_parent_on_one_is_refused_naming_the_bill(packed, code, message):
    with pytest.raises(Refused) as refused:
        services.delete_bag(user=packed["admin"], code=code, reason="wrong")

    assert refused.value.code == DeleteRefusal.ON_BILL and message in refused.value.message
    assert refused.value.extra["bill"] == "INV-1"
    assert code in codes() and not Scan.objects.filter(action=ScanAction.DELETE).exists()


def test_a_parent_returned_from_a_finalised_bill_stays_as_a_record(packed):
    bills.finalise_bill(user=packed["biller"], bill_id=packed["bill"].pk)
    BillBag.objects.filter(parent_bag__qr_id="SB00002").update(
        returned_at=packed["bill"].created_at, returned_on="RTN-1"
    )

    with pytest.raises(Refused, match="dispatched on bill INV-1"):
        services.delete_bag(user=packed["admin"], code="SB00002", reason="wrong")


@pytest.mark.parametrize(
    ("who", "reason", "refusal"),
    [
        ("biller", "x", DeleteRefusal.ADMIN_ONLY),
        ("admin", " ", DeleteRefusal.REASON_REQUIRED),
        ("admin", "x" * 201, DeleteRefusal.REASON_REQUIRED),
    ],
)
def test_only_an_admin_deletes_and_says_why(packed, who, reason, refusal):
    with pytest.raises(Refused) as refused:
        services.delete_bag(user=packed[who], code="L0000001", reason=reason)

    assert refused.value.code == refusal and "L0000001" in codes()


def test_the_confirm_page_lists_exactly_what_goes_and_its_post_deletes(packed, admin_client):
    url = reverse("tracking:delete", args=["SB00001"])

    page = admin_client.get(url).content.decode()
    listed = page[page.index('id="delete-list"') : page.index("</ul>", page.index('id="delete-list"'))]
    assert [code for code in ("SB00001", "C0000001", "C0000002", "C0000003") if code in listed] == [
        "SB00001",
        "C0000001",
        "C0000002",
    ]
    assert "Delete 3 bags" in page
    assert codes() >= {"SB00001", "C0000001"}  # looking changes nothing

    missing = admin_client.post(url, {"reason": ""})
    done = admin_client.post(url, {"reason": "wrong roll of labels"})

    assert missing.status_code == 400 and "Say why" in missing.content.decode()
    assert done.status_code == 302 and codes() == {"SB00002", "C0000003", "L0000001"}


def test_the_confirm_page_of_a_bag_on_a_bill_says_why_not(packed, admin_client):
    response = admin_client.get(reverse("tracking:delete", args=["C0000003"]))

    assert response.status_code == 409 and "INV-1" in response.content.decode()
    assert 'name="reason"' not in response.content.decode()


def test_the_bag_admin_action_lists_asks_why_and_deletes(packed, admin_client):
    url = reverse("admin:bags_bag_changelist")
    picked = [Bag.objects.get(qr_id=code).pk for code in ("SB00001", "SB00002", "L0000001")]
    asked = {"action": "delete_wrong_bags", "_selected_action": picked}

    page = admin_client.post(url, asked).content.decode()
    done = admin_client.post(url, {**asked, "confirm": "yes", "reason": "test labels"}, follow=True)

    assert "C0000001, C0000002" in page and "SB00002</strong>: not deleted" in page and "Delete 4 bags" in page
    assert codes() == {"SB00002", "C0000003"}
    assert "SB00002 is on bill INV-1" in done.content.decode() and "Deleted 4 bags." in done.content.decode()
    assert Scan.objects.filter(action=ScanAction.DELETE, reason="test labels").count() == 4


@pytest.mark.parametrize("how", ["page", "action"])
def test_the_bag_admins_own_delete_ends_the_story_too(packed, admin_client, how):
    child = Bag.objects.get(qr_id="C0000001")
    if how == "page":
        response = admin_client.post(reverse("admin:bags_bag_delete", args=[child.pk]), {"post": "yes"})
    else:
        picked = {"action": "delete_selected", "post": "yes", "_selected_action": [child.pk]}
        response = admin_client.post(reverse("admin:bags_bag_changelist"), picked)

    assert response.status_code == 302 and "C0000001" not in codes()
    event = Scan.objects.get(action=ScanAction.DELETE, bag_qr="C0000001")
    assert (event.parent_qr, event.reason) == ("SB00001", "Deleted in the Django admin")
    assert Bag.objects.get(qr_id="SB00001").child_count == 1
