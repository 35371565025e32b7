"""One definition of a complete parent (bags_parent_complete: full, or marked complete) read by every page and
answer: after an admin lowers a product's capacity below what a parent holds, the bag page, the lookup API,
both ways of searching, the scan API and the bill page all call it complete, and none lists it as open."""

import uuid

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from bags.models import Bag
from bags.selectors import BagSearch, BagStatus, search_bags
from tests import factories
from tests.bills.data import fill

pytestmark = pytest.mark.django_db


@pytest.fixture
def lowered(area, mustard):
    """SB00001 holds 3 children of a capacity of 30, then the admin lowers mustard's capacity to 2."""
    parent = factories.make_parent("SB00001", dispatch_area=area)
    fill(parent, 3)
    factories.make_parent("SB00002", dispatch_area=area)  # empty: open whatever the capacity
    mustard.capacity = 2
    mustard.save()
    return parent


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def searched(user, status: str, prefix: str = "") -> list[str]:
    return [row["qr_id"] for row in search_bags(user, BagSearch(prefix=prefix, status=status)).rows]


def test_a_parent_over_a_lowered_capacity_is_complete_everywhere(lowered, area):
    biller = factories.make_user("biller", role=Role.BILLER)
    dispatcher = factories.make_user("disp", area=area)

    page = logged_in(dispatcher).get(reverse("tracking:bag", args=["SB00001"]))
    looked_up = logged_in(dispatcher).get("/api/bags/SB00001").json()
    opened = logged_in(dispatcher).post(
        "/api/scan/parent", {"client_scan_id": uuid.uuid4().hex, "code": "SB00001"}, content_type="application/json"
    )
    bill = factories.make_bill(biller)
    factories.put_on_bill(bill, lowered)
    on_bill = logged_in(biller).get(f"/api/bills/{bill.pk}").json()

    assert "3 / 2</span> · complete" in page.content.decode()
    assert looked_up["bag"]["complete"] is True
    assert opened.json()["parent"].items() >= {"child_count": 3, "capacity": 2, "complete": True, "full": True}.items()
    assert on_bill["bill"]["parents"][0]["full"] is True
    # The search by code prefix (raw SQL) and without one (the ORM) agree with the pages.
    for prefix in ("SB", ""):
        assert searched(biller, BagStatus.OPEN, prefix) == ["SB00002"]
        assert searched(biller, BagStatus.COMPLETE, prefix) == ["SB00001"]


def test_a_parent_under_a_raised_capacity_is_open_again_unless_marked(lowered, mustard):
    biller = factories.make_user("biller", role=Role.BILLER)
    marked = factories.make_parent("SB00003")
    fill(marked, 1)
    Bag.objects.filter(pk=marked.pk).update(completed_at=timezone.now())
    mustard.capacity = 30
    mustard.save()

    assert Bag.objects.with_completion().get(pk=lowered.pk).complete is False
    assert searched(biller, BagStatus.OPEN, "SB") == ["SB00001", "SB00002"]  # code order
    assert searched(biller, BagStatus.OPEN) == ["SB00002", "SB00001"]  # newest first
    for prefix in ("SB", ""):
        assert searched(biller, BagStatus.COMPLETE, prefix) == ["SB00003"]


def test_a_child_scan_into_a_parent_over_a_lowered_capacity_is_refused_as_full(lowered, area):
    dispatcher = factories.make_user("disp", area=area)

    answer = logged_in(dispatcher).post(
        "/api/scan/child",
        {"client_scan_id": uuid.uuid4().hex, "parent": "SB00001", "code": "C9999999"},
        content_type="application/json",
    )

    assert (answer.status_code, answer.json()["code"]) == (409, "parent_full")
    assert Bag.objects.get(pk=lowered.pk).child_count == 3
