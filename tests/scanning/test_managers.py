"""The scan loop's raw SQL (scanning.managers) gives the same answers as the plain ORM on the same data."""

import uuid

import pytest
from django.utils import timezone

from accounts.models import DispatchArea
from bags.models import Bag, Link
from scanning import services
from scanning.managers import FINALISED, ChildScanState, ParentScanState, StoredReply
from scanning.models import Scan, ScanReply
from tests import factories
from tests.scanning.events import documented_event


def orm_reply(client_scan_id: str) -> StoredReply | None:
    reply = ScanReply.objects.filter(pk=client_scan_id).first()
    return StoredReply(reply.status, reply.body, reply.user_id) if reply else None


def orm_child_scan_state(*, client_scan_id: str, parent_qr: str, child_qr: str) -> ChildScanState:
    parent = Bag.objects.select_related("product", "dispatch_area").filter(qr_id=parent_qr, kind="parent").first()
    child = Bag.objects.filter(qr_id=child_qr).first()
    link = Link.objects.select_related("parent").filter(child=child).first() if child else None
    return ChildScanState(
        reply=orm_reply(client_scan_id),
        parent_id=parent and parent.pk,
        parent_qr=parent and parent.qr_id,
        child_count=parent and parent.child_count,
        # The rule written out plainly, to check the SQL functions the statement calls.
        full=bool(parent) and parent.child_count >= parent.product.capacity,
        complete=bool(parent) and (parent.completed_at is not None or parent.child_count >= parent.product.capacity),
        full_with_one_more=bool(parent) and parent.child_count + 1 >= parent.product.capacity,
        parent_area_id=parent and parent.dispatch_area_id,
        parent_area_name=parent.dispatch_area.name if parent and parent.dispatch_area else None,
        product_name=parent and parent.product.name,
        capacity=parent and parent.product.capacity,
        child_weight_kg=parent and parent.product.child_weight_kg,
        child_id=child and child.pk,
        child_kind=child and child.kind,
        child_parent_id=link and link.parent_id,
        child_parent_qr=link and link.parent.qr_id,
        child_parent_area_id=link and link.parent.dispatch_area_id,
    )


def orm_parent_scan_state(
    *, client_scan_id: str, parent_qr: str, product_code: str, area_id: int | None
) -> ParentScanState:
    bag = Bag.objects.select_related("product", "dispatch_area").filter(qr_id=parent_qr).first()
    product = bag.product if bag and bag.product else factories.product(product_code)
    chosen = DispatchArea.objects.filter(pk=area_id, is_active=True).first()
    return ParentScanState(
        reply=orm_reply(client_scan_id),
        bag_id=bag and bag.pk,
        bag_kind=bag and bag.kind,
        child_count=bag.child_count if bag else 0,
        full=bool(bag) and bag.child_count >= product.capacity,
        complete=bool(bag) and (bag.completed_at is not None or bag.child_count >= product.capacity),
        area_id=bag and bag.dispatch_area_id,
        area_name=bag.dispatch_area.name if bag and bag.dispatch_area else None,
        product_id=product.pk,
        product_name=product.name,
        capacity=product.capacity,
        child_weight_kg=product.child_weight_kg,
        product_is_active=product.is_active,
        chosen_area_name=chosen and chosen.name,
    )


@pytest.fixture
def scene(mustard, moong):
    """Parents and children in every state the scan rules tell apart, in the dispatcher's area and another."""
    area = factories.make_area("Godown 1")
    dispatcher = factories.make_user("d1", area=area)
    full = factories.make_parent("SB00001", dispatch_area=area)
    for _ in range(3):
        factories.link(full, factories.make_child())
    Bag.objects.filter(pk=full.pk).update(completed_at=timezone.now())
    factories.make_parent("M444-00002", product_code="moong")  # no area
    factories.link(factories.make_parent("SB00003", dispatch_area=area), factories.make_child("LINKED01"))
    factories.make_child("LOOSE001")
    elsewhere = factories.make_area("Godown 2")
    factories.link(factories.make_parent("SB00005", dispatch_area=elsewhere), factories.make_child("THEIRS01"))
    factories.make_child("LOOSE002", dispatch_area=elsewhere)
    services.open_parent(user=dispatcher, raw_code="SB00004", client_scan_id="kept-answer-1")
    return dispatcher


CHILD_CASES = [
    ("SB00001", "NEWCHILD1"),
    ("SB00001", "LINKED01"),
    ("SB00003", "LINKED01"),
    ("SB00001", "LOOSE001"),
    ("SB00001", "THEIRS01"),  # in a parent of another area
    ("SB00004", "LOOSE002"),  # loose, of another area
    ("M444-00002", "LOOSE001"),
    ("SB00001", "SB00003"),  # a parent's code where the child goes
    ("SB09999", "LOOSE001"),  # no such parent
]


@pytest.mark.parametrize(("parent_qr", "child_qr"), CHILD_CASES)
@pytest.mark.parametrize("client_scan_id", ["kept-answer-1", "never-seen-1"])
def test_child_scan_state_matches_the_orm(scene, parent_qr, child_qr, client_scan_id):
    expected = orm_child_scan_state(client_scan_id=client_scan_id, parent_qr=parent_qr, child_qr=child_qr)

    with Scan.objects.transaction() as tx:
        got = tx.child_scan_state(client_scan_id=client_scan_id, parent_qr=parent_qr, child_qr=child_qr)

    assert got == expected


@pytest.mark.parametrize(
    ("parent_qr", "product_code"),
    [("SB00001", "mustard"), ("M444-00002", "moong"), ("SB07777", "mustard"), ("M444-07777", "moong")],
)
@pytest.mark.parametrize("client_scan_id", ["kept-answer-1", "never-seen-1"])
@pytest.mark.parametrize("chosen_area", ["dispatchers", "none", "no such area", "not in use"])
def test_parent_scan_state_matches_the_orm(scene, parent_qr, product_code, client_scan_id, chosen_area):
    closed = factories.make_area("Old godown", is_active=False)
    area_id = {"dispatchers": scene.dispatch_area_id, "none": None, "no such area": 999_999, "not in use": closed.pk}[
        chosen_area
    ]
    expected = orm_parent_scan_state(
        client_scan_id=client_scan_id, parent_qr=parent_qr, product_code=product_code, area_id=area_id
    )

    with Scan.objects.transaction() as tx:
        got = tx.parent_scan_state(
            client_scan_id=client_scan_id, parent_qr=parent_qr, product_code=product_code, area_id=area_id
        )

    assert got == expected


@pytest.mark.parametrize("child_qr", ["NEWCHILD1", "LOOSE001", "LOOSE002"])
def test_sql_written_scan_reads_back_the_same_through_the_orm(scene, child_qr):
    answer = services.scan_child(user=scene, parent_code="SB00004", raw_code=child_qr, client_scan_id=uuid.uuid4().hex)

    event = Scan.objects.get(pk=answer.body["scan"]["id"])
    assert answer.body["scan"] == documented_event(event)
    link = Link.objects.get(child__qr_id=child_qr)
    assert (link.parent.qr_id, link.created_by, link.created_at) == ("SB00004", scene, event.created_at)
    # The child is in its parent's area, whichever area (or none) it had before.
    assert (link.child.dispatch_area_id, event.dispatch_area_id) == (scene.dispatch_area_id,) * 2
    parent = Bag.objects.get(qr_id="SB00004")
    assert answer.body["parent"] == services.parent_json(
        qr_id="SB00004",
        product_name="Mustard",
        child_count=parent.child_count,
        capacity=parent.product.capacity,
        full=parent.child_count >= parent.product.capacity,
        complete=parent.completed_at is not None or parent.child_count >= parent.product.capacity,
    )
    assert ScanReply.objects.get(pk=event.client_scan_id).body == answer.body


def test_the_finalised_bill_a_parent_is_on_is_the_bills_apps_answer(mustard, admin_user):
    from bills.choices import BillStatus
    from bills.models import BillBag

    assert FINALISED == BillStatus.FINALISED
    loose, on_draft, on_finalised, returned = (factories.make_parent(f"SB0000{n}") for n in range(1, 5))
    factories.put_on_bill(factories.make_bill(admin_user, bill_number="DRAFT-1"), on_draft)
    factories.put_on_bill(factories.make_bill(admin_user, bill_number="OLD-1"), returned)
    factories.put_on_bill(final := factories.make_bill(admin_user, bill_number="FINAL-1"), on_finalised)
    factories.finalise(final)
    factories.finalise(BillBag.objects.get(parent_bag=returned).bill)
    BillBag.objects.filter(parent_bag=returned).update(returned_at=timezone.now(), returned_on="RTN-20261203-0001")
    factories.put_on_bill(factories.make_bill(admin_user, bill_number="NEW-1"), returned)  # on a draft again

    def orm(parent: Bag) -> str | None:
        entry = BillBag.objects.current().filter(parent_bag=parent, bill__status=BillStatus.FINALISED).first()
        return entry.bill.bill_number if entry else None

    parents = [loose, on_draft, on_finalised, returned]
    assert [Scan.objects.finalised_bill(parent.pk) for parent in parents] == [orm(parent) for parent in parents]
    assert [orm(parent) for parent in parents] == [None, None, "FINAL-1", None]
