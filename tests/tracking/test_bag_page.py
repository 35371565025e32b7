"""The bag page (/bags/<code>/) and the bag API (GET /api/bags/<code>, ?at=, /story): the bag's facts, its
story and where it was at a time, each in a pinned number of queries, a dispatcher seeing only their area."""

import re
import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from scanning import services as scanning
from scanning.models import Scan, ScanAction
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def floor(area, mustard, clock):
    """SB00001 of area A holding C0000001 and C0000002 (scanned an hour apart, the second undone later),
    SB00009 of area B; a dispatcher of each area and a biller."""
    dispatcher = factories.make_user("page-disp", area=area)
    other = factories.make_user("page-other", area=factories.make_area("Area B"))
    biller = factories.make_user("page-biller", role=Role.BILLER)
    scanning.open_parent(user=dispatcher, raw_code="SB00001", client_scan_id=uuid.uuid4().hex)
    scanning.open_parent(user=other, raw_code="SB00009", client_scan_id=uuid.uuid4().hex)
    times = {"opened": clock.now}
    clock.shift(minutes=5)
    scanning.scan_child(user=dispatcher, parent_code="SB00001", raw_code="C0000001", client_scan_id=uuid.uuid4().hex)
    times["first"] = clock.now
    clock.shift(hours=1)
    scanning.scan_child(user=dispatcher, parent_code="SB00001", raw_code="C0000002", client_scan_id=uuid.uuid4().hex)
    times["second"] = clock.now
    clock.shift(minutes=10)
    scanning.undo_last_scan(user=dispatcher, client_scan_id=uuid.uuid4().hex)
    times["undone"] = clock.now
    clock.shift(minutes=1)
    clients = {}
    for name, user in (("dispatcher", dispatcher), ("other", other), ("biller", biller)):
        clients[name] = Client()
        clients[name].force_login(user)
        clients[name].get("/")  # the first request after login writes the session's timeout stamps
    return {"clients": clients, "times": times}


def local(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def test_the_bag_page_shows_the_story_newest_first_with_who(floor):
    html = floor["clients"]["dispatcher"].get(reverse("tracking:bag", args=["SB00001"])).content.decode()

    story = html[html.index('id="story"') :]
    order = [
        story.index(text) for text in ("C0000002 taken out (scan undone)", "C0000002 linked in", "C0000001 linked in")
    ]
    assert order == sorted(order)
    assert "page-disp" in story and "(undone)" in story
    assert f'href="{reverse("tracking:bag", args=["C0000001"])}"' in html  # its children, as links


def test_the_bag_page_answers_where_a_child_was_at_a_time(floor):
    url = reverse("tracking:bag", args=["C0000002"])
    client = floor["clients"]["dispatcher"]

    during = client.get(url, {"at": local(floor["times"]["second"])}).content.decode()
    after = client.get(url, {"at": local(floor["times"]["undone"])}).content.decode()
    before = client.get(url, {"at": local(floor["times"]["opened"])}).content.decode()

    assert 'id="as-of"' in during and "In parent" in during and "SB00001" in during[during.index('id="as-of"') :]
    assert "In no parent bag." in after
    assert "had not been scanned yet" in before


def test_the_bag_page_lists_what_a_parent_held_at_a_time(floor):
    html = floor["clients"]["biller"].get(
        reverse("tracking:bag", args=["SB00001"]), {"at": local(floor["times"]["second"])}
    )

    as_of = html.content.decode()[html.content.decode().index('id="as-of"') :]
    assert "Held 2 child bags" in as_of and "C0000001" in as_of and "C0000002" in as_of
    assert "On no bill." in as_of


def test_a_time_that_is_not_one_is_explained(floor):
    response = floor["clients"]["dispatcher"].get(reverse("tracking:bag", args=["SB00001"]), {"at": "yesterday"})

    assert response.status_code == 400
    assert "is not a date and time" in response.content.decode()


@pytest.mark.parametrize(("at", "queries"), [(None, 2), ("2026-11-20T10:30", 3)])
def test_the_bag_page_costs_its_detail_its_story_and_its_as_of(floor, at, queries, django_assert_num_queries):
    client = floor["clients"]["dispatcher"]
    with django_assert_num_queries(queries):
        response = client.get(reverse("tracking:bag", args=["SB00001"]), {"at": at} if at else {})

    assert response.status_code == 200


@pytest.mark.parametrize("code", ["SB00009", "NOSUCH1", "bad%20code"])
def test_the_bag_page_of_a_bag_one_may_not_see_is_not_found(floor, code):
    response = floor["clients"]["dispatcher"].get(f"/bags/{code}/")

    assert response.status_code == 404


def test_only_admins_are_offered_the_delete_button(floor, admin_client):
    url = reverse("tracking:bag", args=["SB00001"])
    delete = reverse("tracking:delete", args=["SB00001"])

    assert delete not in floor["clients"]["biller"].get(url).content.decode()
    assert delete in admin_client.get(url).content.decode()


def test_the_api_answers_as_of_with_at(floor):
    client = floor["clients"]["dispatcher"]

    during = client.get("/api/bags/c0000002", {"at": local(floor["times"]["second"])}).json()
    now = client.get("/api/bags/SB00001").json()
    parent = client.get("/api/bags/SB00001", {"at": floor["times"]["second"].isoformat()}).json()

    assert during["as_of"]["parent"]["qr_id"] == "SB00001" and during["as_of"]["existed"] is True
    assert "as_of" not in now
    assert [child["qr_id"] for child in parent["as_of"]["children"]] == ["C0000001", "C0000002"]


def test_the_api_refuses_a_bad_time_with_the_field_named(floor):
    answer = floor["clients"]["dispatcher"].get("/api/bags/SB00001", {"at": "2026-13-45T99:00"})

    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid" and "at" in answer.json()["errors"]


def test_the_api_tells_the_story(floor):
    answer = floor["clients"]["dispatcher"].get("/api/bags/C0000002/story").json()

    assert [(event["source"], event["action"]) for event in answer["events"]] == [
        ("scan", "undo"),
        ("scan", "link"),
        ("bag", "created"),
    ]
    assert answer["events"][1]["undone"] is True and answer["events"][1]["user"] == "page-disp"
    assert answer["events"][0]["text"] == "Scan into SB00001 undone"


def test_a_dispatcher_gets_no_story_of_another_areas_bag(floor):
    assert floor["clients"]["other"].get("/api/bags/SB00001/story").status_code == 404
    assert floor["clients"]["other"].get("/api/bags/SB00001", {"at": "2026-11-20T10:30"}).status_code == 404


def test_the_unlink_form_is_for_billers_and_admins_on_a_child_in_a_parent(floor):
    url = reverse("tracking:bag", args=["C0000001"])

    assert 'id="unlink-form"' not in floor["clients"]["dispatcher"].get(url).content.decode()
    assert 'id="unlink-form"' in floor["clients"]["biller"].get(url).content.decode()
    assert (
        'id="unlink-form"'
        not in floor["clients"]["biller"].get(reverse("tracking:bag", args=["C0000002"])).content.decode()
    )


@pytest.mark.skipif(
    not hasattr(scanning, "supervisor_unlink"), reason="scanning.services.supervisor_unlink is not on this branch yet"
)
def test_a_biller_unlinks_a_child_from_the_bag_page_once_with_a_reason(floor):
    client = floor["clients"]["biller"]
    page = client.get(reverse("tracking:bag", args=["C0000001"])).content.decode()
    form = {"reason": "wrong parent", "client_scan_id": re.search(r'name="client_scan_id" value="(\w+)"', page)[1]}

    done = client.post(reverse("tracking:unlink", args=["c0000001"]), form, follow=True)
    again = client.post(reverse("tracking:unlink", args=["C0000001"]), form, follow=True)

    assert done.redirect_chain[-1][0] == reverse("tracking:bag", args=["C0000001"])
    assert (
        "Not in any parent bag." in done.content.decode()
        and "Unlinked from SB00001 (wrong parent)" in done.content.decode()
    )
    assert again.status_code == 200
    assert Scan.objects.filter(action=ScanAction.UNLINK, bag_qr="C0000001", reason="wrong parent").count() == 1


def test_a_scan_queued_offline_shows_when_the_device_scanned_it(floor, clock):
    scanned = Scan.objects.filter(bag_qr="C0000001", action=ScanAction.LINK).get()
    offline = clock.now - timedelta(minutes=30)
    Scan.objects.create(  # an unlink sent late by a device that queued it (as an offline queue's scan is written)
        user=scanned.user,
        action=ScanAction.UNLINK,
        bag_id=scanned.bag_id,
        bag_qr="C0000001",
        parent_id=scanned.parent_id,
        parent_qr="SB00001",
        device_time=offline,
    )

    html = floor["clients"]["biller"].get(reverse("tracking:bag", args=["C0000001"])).content.decode()
    story = floor["clients"]["biller"].get("/api/bags/C0000001/story").json()

    local = timezone.localtime(offline)
    assert f"scanned offline at {local.day} {local:%b %H:%M:%S}" in html
    assert story["events"][0]["device_time"] is not None


@pytest.mark.parametrize(
    ("raw", "means"),
    [
        ("2026-11-20T10:17", "2026-11-20T10:17:59.999999+05:30"),
        ("2026-11-20T10:17:30", "2026-11-20T10:17:30.999999+05:30"),
        ("2026-11-20T10:17:30.25", "2026-11-20T10:17:30.250000+05:30"),
        ("2026-11-20T04:47:30Z", "2026-11-20T04:47:30.999999+00:00"),
    ],
)
def test_a_time_given_to_the_minute_or_second_means_its_end(raw, means):
    from tracking.story import parse_at

    assert parse_at(raw).isoformat() == means
