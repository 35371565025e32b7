"""The JSON scan API over HTTP (Django test client): auth, CSRF, bad bodies, replays, and its OpenAPI schema."""

import json
import re
import uuid

import pytest
from django.test import Client
from django.urls import get_resolver, reverse

from bags.models import Bag, Link
from bags.selectors import BagSearch, search_bags
from scanning.models import Scan
from tests import factories


@pytest.fixture
def dispatcher(area):
    return factories.make_user("disp", area=area)


@pytest.fixture
def api(dispatcher, mustard):
    client = Client(enforce_csrf_checks=True)
    client.force_login(dispatcher)
    client.get("/scan/")  # sets the csrftoken cookie, as the scan page does
    return client


def post(client, url, payload, **extra):
    token = client.cookies["csrftoken"].value if "csrftoken" in client.cookies else ""
    body = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
    return client.post(url, body, content_type="application/json", headers={"X-CSRFToken": token}, **extra)


def scan(client, url, **payload):
    return post(client, url, {"client_scan_id": uuid.uuid4().hex, **payload})


def test_parent_then_child_over_http(api):
    opened = scan(api, "/api/scan/parent", code="sb00001")
    linked = scan(api, "/api/scan/child", parent="SB00001", code="c0000001")

    assert opened.status_code == 200
    assert opened.json()["code"] == "parent_created"
    assert linked.status_code == 200
    assert linked.json()["parent"]["child_count"] == 1
    assert Link.objects.get().child.qr_id == "C0000001"


def test_refusal_is_a_4xx_with_a_sentence(api):
    scan(api, "/api/scan/parent", code="SB00001")

    answer = scan(api, "/api/scan/child", parent="SB00001", code="SB00002")

    assert answer.status_code == 422
    assert answer.json()["ok"] is False
    assert answer.json()["code"] == "parent_where_child_expected"
    assert "parent bag code" in answer.json()["message"]


@pytest.mark.parametrize(("url", "field"), [("/api/scan/parent", "code"), ("/api/scan/child", "code")])
def test_a_command_barcode_sent_as_a_bag_is_refused_and_makes_no_bag(api, url, field):
    # A scanner app that does not know the commands sends one as a code: never a bag.
    scan(api, "/api/scan/parent", code="SB00001")

    answer = scan(api, url, parent="SB00001", **{field: "TT-CMD-DONE"})

    assert answer.status_code == 422
    assert answer.json()["code"] == "command_code"
    assert answer.json()["message"] == "'TT-CMD-DONE' is a command barcode, not a bag code. Scan the bag's own label."
    assert not Bag.objects.filter(qr_id__startswith="TT-CMD-").exists()


def test_repeat_of_a_client_scan_id_is_marked_as_replayed(api):
    scan(api, "/api/scan/parent", code="SB00001")
    payload = {"client_scan_id": uuid.uuid4().hex, "parent": "SB00001", "code": "C0000001"}

    first = post(api, "/api/scan/child", payload)
    again = post(api, "/api/scan/child", payload)

    assert "X-Scan-Replayed" not in first.headers
    assert again.headers["X-Scan-Replayed"] == "true"
    assert again.json() == first.json()
    assert Link.objects.count() == 1


def test_undo_and_complete_over_http(api):
    scan(api, "/api/scan/parent", code="SB00001")
    scan(api, "/api/scan/child", parent="SB00001", code="C0000001")

    undone = scan(api, "/api/scan/undo")
    completed = scan(api, "/api/scan/complete", parent="SB00001")

    assert (undone.status_code, undone.json()["code"]) == (200, "undone")
    assert (completed.status_code, completed.json()["code"]) == (200, "completed")
    assert Link.objects.count() == 0


def test_move_and_its_undo_over_http_with_replays_marked(api):
    for parent in ("SB00001", "SB00002"):
        scan(api, "/api/scan/parent", code=parent)
    scan(api, "/api/scan/child", parent="SB00001", code="C0000001")
    payload = {"client_scan_id": uuid.uuid4().hex, "code": "C0000001", "parent": "SB00002"}

    moved = post(api, "/api/scan/move", payload)
    again = post(api, "/api/scan/move", payload)
    undone = scan(api, "/api/scan/undo")

    assert (moved.status_code, moved.json()["code"], moved.json()["other_parent"]["qr_id"]) == (200, "moved", "SB00001")
    assert again.headers["X-Scan-Replayed"] == "true" and again.json() == moved.json()
    assert (undone.json()["code"], undone.json()["other_parent"]["qr_id"]) == ("undone", "SB00001")
    assert Link.objects.get().parent.qr_id == "SB00001"


def test_a_queued_scan_sends_its_device_time_and_a_bad_one_is_a_400(api):
    sent = scan(api, "/api/scan/parent", code="SB00001", scanned_at="2000-01-01T00:00:00Z")  # ignored: too old
    bad = scan(api, "/api/scan/child", parent="SB00001", code="C0000001", scanned_at="soon")

    assert sent.status_code == 200 and Scan.objects.get().device_time is None
    assert (bad.status_code, bad.json()["code"]) == (400, "bad_scanned_at")
    assert not Link.objects.exists()


def test_a_biller_unlinks_over_http_and_a_dispatcher_may_not(api, dispatcher):
    scan(api, "/api/scan/parent", code="SB00001")
    scan(api, "/api/scan/child", parent="SB00001", code="C0000001")
    biller = Client(enforce_csrf_checks=True)
    biller.force_login(factories.make_user("biller", role="biller"))
    biller.get("/scan/")

    refused = scan(api, "/api/bags/C0000001/unlink", reason="Wrong parent")
    no_reason = scan(biller, "/api/bags/C0000001/unlink")
    payload = {"client_scan_id": uuid.uuid4().hex, "reason": "Wrong parent"}
    unlinked = post(biller, "/api/bags/c0000001/unlink", payload)
    again = post(biller, "/api/bags/c0000001/unlink", payload)

    assert refused.status_code == 403
    assert (no_reason.status_code, no_reason.json()["code"]) == (400, "reason_required")
    assert (unlinked.status_code, unlinked.json()["code"]) == (200, "unlinked")
    assert again.headers["X-Scan-Replayed"] == "true"
    assert not Link.objects.exists()
    assert Scan.objects.get(action="unlink").reason == "Wrong parent"


def test_not_logged_in_gets_401_json(db, mustard):
    client = Client()

    answer = client.post(
        "/api/scan/parent", {"client_scan_id": uuid.uuid4().hex, "code": "SB00001"}, content_type="application/json"
    )

    assert answer.status_code == 401
    assert answer.json()["code"] == "not_logged_in"
    assert Bag.objects.count() == 0


def test_post_without_csrf_token_is_refused_in_json(dispatcher, mustard):
    client = Client(enforce_csrf_checks=True)
    client.force_login(dispatcher)

    answer = client.post(
        "/api/scan/parent", {"client_scan_id": uuid.uuid4().hex, "code": "SB00001"}, content_type="application/json"
    )

    assert answer.status_code == 403
    assert answer.json()["code"] == "csrf_failed"
    assert Bag.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        ("{not json", "application/json", 400, "bad_request"),
        ("[1, 2]", "application/json", 400, "bad_request"),
        ("code=SB00001", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (json.dumps({"code": "SB00001"}), "application/json", 400, "bad_client_scan_id"),
        (json.dumps({"client_scan_id": uuid.uuid4().hex, "code": ["SB00001"]}), "application/json", 422, "empty"),
        (json.dumps({"client_scan_id": uuid.uuid4().hex, "code": "C" * 10_000}), "application/json", 413, "too_large"),
    ],
    # Named, not numbered by their random ids: parallel workers collect the tests apart and must agree.
    ids=["not-json", "a-list", "a-form", "no-scan-id", "code-a-list", "code-too-long"],
)
def test_bad_bodies_get_a_clear_answer_and_change_nothing(api, body, content_type, status, code):
    token = api.cookies["csrftoken"].value

    answer = api.post("/api/scan/parent", body, content_type=content_type, headers={"X-CSRFToken": token})

    assert answer.status_code == status
    assert answer.json()["code"] == code
    assert answer.json()["message"]
    assert Bag.objects.count() == 0


def test_scan_endpoints_refuse_get(api):
    assert api.get("/api/scan/child").status_code == 405


def test_recent_lists_own_scans_newest_first(api, dispatcher):
    scan(api, "/api/scan/parent", code="SB00001")
    for n in range(12):
        scan(api, "/api/scan/child", parent="SB00001", code=f"C{n:07d}")
    scan(api, "/api/scan/undo")
    someone_else = factories.make_user(area=dispatcher.dispatch_area)
    Scan.objects.create(user=someone_else, action="link", bag_qr="OTHER001", parent_qr="SB00001")

    scans = api.get("/api/scan/recent").json()["scans"]

    assert len(scans) == 10
    assert [s["action"] for s in scans[:2]] == ["undo", "link"]
    assert scans[1]["bag"] == "C0000011" and scans[1]["undone"] is True
    assert scans[2]["bag"] == "C0000010" and scans[2]["undone"] is False
    assert "OTHER001" not in {s["bag"] for s in scans}


def test_bag_lookup_shows_parent_children_and_scans(api, dispatcher):
    scan(api, "/api/scan/parent", code="SB00001")
    scan(api, "/api/scan/child", parent="SB00001", code="C0000001")

    parent = api.get("/api/bags/sb00001").json()
    child = api.get("/api/bags/C0000001").json()

    assert parent["bag"]["child_count"] == 1
    assert [c["qr_id"] for c in parent["children"]] == ["C0000001"]
    assert child["parent"]["qr_id"] == "SB00001"
    assert [s["action"] for s in child["scans"]] == ["link"]


def test_bag_lookup_hides_other_areas_from_dispatchers(api):
    factories.make_parent("SB00009", dispatch_area=factories.make_area())

    answer = api.get("/api/bags/SB00009")

    assert answer.status_code == 404
    assert answer.json()["code"] == "unknown_bag"


def test_a_loose_child_linked_by_another_area_is_seen_there_and_no_longer_where_it_was(api, dispatcher):
    first_seen = factories.make_area("Godown 2")
    factories.make_child("C0000001", dispatch_area=first_seen)
    first = factories.make_user("disp-2", area=first_seen)
    their_client = Client()
    their_client.force_login(first)
    scan(api, "/api/scan/parent", code="SB00001")

    assert scan(api, "/api/scan/child", parent="SB00001", code="C0000001").json()["code"] == "linked"

    ours = api.get("/api/bags/C0000001")
    assert ours.status_code == 200
    assert ours.json()["bag"]["dispatch_area"] == dispatcher.dispatch_area.name
    assert ours.json()["parent"]["qr_id"] == "SB00001"
    assert api.get(reverse("tracking:bag", args=["C0000001"])).status_code == 200
    assert their_client.get("/api/bags/C0000001").status_code == 404
    assert their_client.get(reverse("tracking:bag", args=["C0000001"])).status_code == 404
    # Both ways the search reads: a code's start (raw SQL) and none (the ORM).
    for search in (BagSearch(prefix="C0000001"), BagSearch(kind="child")):
        assert [row["qr_id"] for row in search_bags(dispatcher, search).rows] == ["C0000001"]
        assert search_bags(first, search).rows == []


def test_bag_lookup_of_a_malformed_code_says_why(api):
    answer = api.get("/api/bags/C%20D")

    assert answer.status_code == 422
    assert answer.json()["code"] == "bad_characters"


def api_routes() -> set[str]:
    """The API's URL patterns as OpenAPI paths, found from the URL conf (not a hand list)."""
    routes = set()
    for pattern in get_resolver().url_patterns:
        for sub in getattr(pattern, "url_patterns", [pattern]):
            route = str(pattern.pattern) + str(sub.pattern) if hasattr(pattern, "url_patterns") else str(sub.pattern)
            if route.startswith("api/") and route != "api/openapi.json":
                routes.add("/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route))
    return routes


def test_openapi_schema_documents_every_api_route(client, db):
    schema = client.get("/api/openapi.json").json()

    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == api_routes()


def test_scan_after_the_session_timed_out_gets_401_and_changes_nothing(api, settings):
    session = api.session
    session["tt_seen"] -= settings.SESSION_IDLE_TIMEOUT_MINUTES * 60 + 1
    session.save()

    answer = scan(api, "/api/scan/parent", code="SB00001")

    assert answer.status_code == 401
    assert answer.json()["code"] == "not_logged_in"
    assert Bag.objects.count() == 0
