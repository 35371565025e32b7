"""The bag detail (bags.managers.BAG_DETAIL_SQL, one statement) against the plain ORM on the same data, and the
pages and API built on it: the lookup page and GET /api/bags/<code>, each in one query, a dispatcher seeing only
their own area's bags (the bag page, which adds its story: tests/tracking/test_bag_page.py)."""

import json
import uuid
from typing import Any

import pytest
from django.db.models import Exists, OuterRef
from django.urls import reverse

from accounts.models import Role
from bags.managers import visible_area
from bags.models import Bag, Link
from bills.models import BillBag
from scanning import selectors, services
from scanning.models import Scan
from tests import factories
from tests.bills.data import fill
from tests.scanning.events import documented_event

pytestmark = pytest.mark.django_db


def orm_lookup(*, user, qr_id: str, scans: int) -> dict[str, Any] | None:
    """The lookup, the slow obvious way: the ORM, a query for each part (what lookup_bag did before)."""
    bag = Bag.objects.restrict(user).select_related("product", "dispatch_area").filter(qr_id=qr_id).first()
    if bag is None:
        return None

    def bag_json(one: Bag) -> dict[str, Any]:
        return {
            "qr_id": one.qr_id,
            "kind": one.kind,
            "product": one.product.name if one.product else None,
            "child_count": one.child_count if one.is_parent else None,
            "capacity": one.product.capacity if one.product else None,
            "complete": one.completed_at is not None
            or (one.product is not None and one.child_count >= one.product.capacity),
            "dispatch_area": one.dispatch_area.name if one.dispatch_area else None,
            "created_at": one.created_at.isoformat(),
        }

    parent, children, bill = None, [], None
    if bag.is_parent:
        links = Link.objects.filter(parent=bag).order_by("created_at", "pk").values_list("child__qr_id", "created_at")
        children = [{"qr_id": code, "linked_at": at.isoformat()} for code, at in links]
        entry = BillBag.objects.filter(parent_bag=bag).select_related("bill").first()
        if entry is not None:
            bill = {"bill_number": entry.bill.bill_number, "customer": entry.bill.customer, "status": entry.bill.status}
    else:
        link = Link.objects.filter(child=bag).select_related("parent__product", "parent__dispatch_area").first()
        if link is not None:
            parent = {**bag_json(link.parent), "linked_at": link.created_at.isoformat()}
    field = "parent" if bag.is_parent else "bag"
    events = Scan.objects.filter(**{field: bag}).annotate(undone=Exists(Scan.objects.filter(reverts=OuterRef("pk"))))
    restricted, area_id = visible_area(user)
    if restricted and not bag.is_parent:
        events = events.filter(parent__dispatch_area_id=area_id)  # a dispatcher: the child's time in their area
    events = events.order_by("-created_at", "-pk")[:scans]
    return {
        "bag": bag_json(bag),
        "parent": parent,
        "children": children,
        "bill": bill,
        "scans": [documented_event(event, undone=event.undone) for event in events],
    }


def sql_lookup(*, user, qr_id: str, scans: int) -> dict[str, Any] | None:
    detail = Bag.objects.detail(user=user, qr_id=qr_id, scans=scans)
    return selectors.lookup_json(detail) if detail is not None else None


@pytest.fixture
def warehouse(area, mustard, moong):
    """Two areas. In A: a dispatcher who opened SB00001 and scanned three children into it (the last one
    undone), so it holds two; a full moong parent on a bill with another child of none; a loose child. In B:
    a parent of its own, and in it C0000004, which A scanned into A's SB00002 and undid. Also a parent an
    admin made with no area."""
    other = factories.make_area("Area B")
    dispatcher = factories.make_user("disp-a", area=area)
    biller = factories.make_user("biller-a", role=Role.BILLER)
    for code in ("SB00001",):
        services.open_parent(user=dispatcher, raw_code=code, client_scan_id=uuid.uuid4().hex)
    for code in ("C0000001", "C0000002", "C0000003"):
        services.scan_child(user=dispatcher, parent_code="SB00001", raw_code=code, client_scan_id=uuid.uuid4().hex)
    services.undo_last_scan(user=dispatcher, client_scan_id=uuid.uuid4().hex)
    full = factories.make_parent("M444-00001", product_code="moong", dispatch_area=area)
    fill(full, 30, prefix="MC")
    Bag.objects.filter(qr_id__startswith="MC").update(dispatch_area=area)
    Bag.objects.filter(pk=full.pk).update(completed_at=full.created_at)
    factories.put_on_bill(factories.make_bill(biller, bill_number="INV-9", customer="Jaipur depot"), full)
    factories.make_child("L0000001", dispatch_area=area)
    factories.make_parent("SB00009", dispatch_area=other)
    factories.make_parent("SB00010")
    other_dispatcher = factories.make_user("disp-b", area=other)
    services.open_parent(user=dispatcher, raw_code="SB00002", client_scan_id=uuid.uuid4().hex)
    services.scan_child(user=dispatcher, parent_code="SB00002", raw_code="C0000004", client_scan_id=uuid.uuid4().hex)
    services.undo_last_scan(user=dispatcher, client_scan_id=uuid.uuid4().hex)
    services.scan_child(
        user=other_dispatcher, parent_code="SB00009", raw_code="C0000004", client_scan_id=uuid.uuid4().hex
    )
    return {"dispatcher": dispatcher, "biller": biller, "other_dispatcher": other_dispatcher}


CODES = ["SB00001", "C0000001", "C0000002", "C0000003", "M444-00001", "MC0001", "MC0030", "L0000001", "SB00009"]
CODES += ["SB00002", "C0000004"]


@pytest.mark.parametrize("who", ["dispatcher", "biller", "other_dispatcher"])
@pytest.mark.parametrize("scans", [1, 2, 10])
def test_the_detail_statement_answers_as_the_orm_does(warehouse, who, scans):
    user = warehouse[who]
    answers = {code: sql_lookup(user=user, qr_id=code, scans=scans) for code in [*CODES, "SB00010", "NOSUCH1"]}

    assert answers == {code: orm_lookup(user=user, qr_id=code, scans=scans) for code in answers}
    # Not vacuous: each of them sees some bags and is refused others.
    assert any(answers.values()) and None in answers.values()


def test_the_detail_shows_parent_children_bill_and_undone_scans(warehouse):
    dispatcher = warehouse["dispatcher"]

    parent = sql_lookup(user=dispatcher, qr_id="SB00001", scans=10)
    undone = sql_lookup(user=dispatcher, qr_id="C0000003", scans=10)
    on_bill = sql_lookup(user=dispatcher, qr_id="M444-00001", scans=10)
    child = sql_lookup(user=dispatcher, qr_id="MC0007", scans=10)

    assert [c["qr_id"] for c in parent["children"]] == ["C0000001", "C0000002"]
    assert parent["bag"]["child_count"] == 2 and parent["bag"]["complete"] is False
    assert [(s["action"], s["bag"], s["undone"]) for s in parent["scans"]] == [
        ("undo", "C0000003", False),
        ("link", "C0000003", True),
        ("link", "C0000002", False),
        ("link", "C0000001", False),
        ("open_parent", "SB00001", False),
    ]
    assert parent["scans"][0]["reverts"] == parent["scans"][1]["id"]
    assert "reverts" not in parent["scans"][1]
    assert undone["parent"] is None
    assert on_bill["bill"] == {"bill_number": "INV-9", "customer": "Jaipur depot", "status": "draft"}
    assert on_bill["bag"]["complete"] is True
    assert child["parent"]["qr_id"] == "M444-00001" and child["parent"]["child_count"] == 30


def test_a_child_from_another_area_shows_a_dispatcher_only_its_scans_in_their_areas_parents(warehouse):
    now_in_b = sql_lookup(user=warehouse["other_dispatcher"], qr_id="C0000004", scans=10)
    everything = sql_lookup(user=warehouse["biller"], qr_id="C0000004", scans=10)

    assert sql_lookup(user=warehouse["dispatcher"], qr_id="C0000004", scans=10) is None
    assert now_in_b["bag"]["dispatch_area"] == "Area B" and now_in_b["parent"]["qr_id"] == "SB00009"
    assert [(s["action"], s["parent"]) for s in now_in_b["scans"]] == [("link", "SB00009")]
    assert "SB00002" not in json.dumps(now_in_b)
    assert sorted((s["action"], s["parent"]) for s in everything["scans"]) == [
        ("link", "SB00002"),
        ("link", "SB00009"),
        ("undo", "SB00002"),
    ]


def test_a_dispatcher_sees_only_their_areas_bags_and_others_all(warehouse):
    dispatcher, biller = warehouse["dispatcher"], warehouse["biller"]

    assert Bag.objects.detail(user=dispatcher, qr_id="SB00009", scans=10) is None
    assert Bag.objects.detail(user=dispatcher, qr_id="SB00010", scans=10) is None  # no area: not theirs
    assert Bag.objects.detail(user=biller, qr_id="SB00009", scans=10).bag.dispatch_area == "Area B"
    assert Bag.objects.detail(user=warehouse["other_dispatcher"], qr_id="SB00009", scans=10) is not None


def test_the_detail_is_one_query_whatever_the_parent_holds(warehouse, django_assert_num_queries):
    with django_assert_num_queries(1):
        detail = Bag.objects.detail(user=warehouse["biller"], qr_id="M444-00001", scans=100)

    assert len(detail.children) == 30


@pytest.fixture
def dispatcher_client(client, warehouse):
    client.force_login(warehouse["dispatcher"])
    client.get("/")  # the first request after login writes the session's timeout stamps
    return client


@pytest.mark.parametrize(
    ("url", "code"),
    [
        (reverse("scanning:lookup") + "?code=m444-00001", "M444-00001"),
        ("/api/bags/m444-00001", "M444-00001"),
    ],
)
def test_the_lookup_page_and_api_cost_one_query(dispatcher_client, url, code, django_assert_num_queries):
    with django_assert_num_queries(1):  # the bag detail (the user is kept in process: accounts.authentication)
        response = dispatcher_client.get(url)

    assert response.status_code == 200
    assert code in response.content.decode()
