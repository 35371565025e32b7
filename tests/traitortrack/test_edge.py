"""The HTTP edge (traitortrack.edge): every error under /api/ is the one JSON body, every page error the
branded page, and a hostile body changes nothing."""

import json
import uuid

import pytest
from django.test import Client

from accounts.models import Role
from bags.models import Bag, Link
from bills.models import Bill
from overview.openapi import API_REFUSALS
from scanning import services as scanning
from scanning.models import Scan
from tests import factories
from traitortrack.errors import EdgeRefusal, Refused

pytestmark = pytest.mark.django_db

# Under 4 KB, deeper than Python's json parser goes (it raised RecursionError: a 500).
DEEP = "[" * 1000 + "]" * 1000


@pytest.fixture
def floor(area, mustard):
    dispatcher = factories.make_user("edge-dispatcher", area=area)
    biller = factories.make_user("edge-biller", role=Role.BILLER)
    scanning.open_parent(user=dispatcher, raw_code="SB10001", client_scan_id=uuid.uuid4().hex)
    bill = factories.make_bill(biller, bill_number="EDGE-1")
    clients = {}
    for name, user in (("dispatcher", dispatcher), ("biller", biller)):
        clients[name] = Client()
        clients[name].force_login(user)
    return {"bill": bill, **clients}


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["ok"] is False and body["code"] == code and body["message"]
    return body


def _writes() -> tuple[int, ...]:
    return Bag.objects.count(), Link.objects.count(), Scan.objects.count(), Bill.objects.count()


@pytest.mark.parametrize(
    ("who", "method", "url"),
    [
        ("dispatcher", "post", "/api/scan/parent"),
        ("dispatcher", "post", "/api/scan/child"),
        ("dispatcher", "post", "/api/scan/undo"),
        ("dispatcher", "post", "/api/scan/complete"),
        ("biller", "post", "/api/bills"),
        ("biller", "patch", "/api/bills/{bill}"),
        ("biller", "post", "/api/bills/{bill}/parents"),
    ],
)
@pytest.mark.parametrize("body", [DEEP, '{"code": ' + "[" * 10 + "]" * 10 + "}"])
def test_a_deeply_nested_body_is_a_400_and_changes_nothing(floor, who, method, url, body):
    before = _writes()

    response = getattr(floor[who], method)(url.format(bill=floor["bill"].pk), body, content_type="application/json")

    assert_error(response, 400, "bad_request")
    assert "nested too deeply" in response.json()["message"]
    assert _writes() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [("bill_date", 5), ("bill_number", ["x"]), ("customer", {"k": "v"}), ("expected_parents", "9"), ("notes", 1)],
)
def test_a_bill_field_of_the_wrong_json_type_is_a_422_naming_it(floor, field, value):
    body = {"bill_number": "EDGE-2", "customer": "Mandi", "bill_date": "2026-12-01", "expected_parents": 3}
    body[field] = value

    created = floor["biller"].post("/api/bills", json.dumps(body), content_type="application/json")
    changed = floor["biller"].patch(
        f"/api/bills/{floor['bill'].pk}", json.dumps({field: value}), content_type="application/json"
    )

    for response in (created, changed):
        answer = assert_error(response, 422, "invalid")
        assert list(answer["errors"]) == [field]
        assert answer["message"].startswith(f"{field}: ")
    assert not Bill.objects.filter(bill_number="EDGE-2").exists()
    assert Bill.objects.get(pk=floor["bill"].pk).customer == floor["bill"].customer


def test_expected_parents_true_is_not_a_number(floor):
    body = {"bill_number": "EDGE-3", "customer": "Mandi", "bill_date": "2026-12-01", "expected_parents": True}

    response = floor["biller"].post("/api/bills", json.dumps(body), content_type="application/json")

    assert assert_error(response, 422, "invalid")["errors"] == {"expected_parents": ["Must be a whole number."]}


@pytest.mark.parametrize(
    ("method", "url", "allow"),
    [("get", "/api/scan/child", "POST"), ("options", "/api/scan/parent", "POST"), ("put", "/api/bills", "GET, POST")],
)
def test_a_method_not_allowed_under_the_api_is_json(floor, method, url, allow):
    client = floor["biller"] if "bills" in url else floor["dispatcher"]

    response = getattr(client, method)(url)

    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == allow


@pytest.mark.parametrize(
    ("url", "code"),
    [("/api/nope", "not_found"), ("/api/bags/a%2Fb", "not_found"), ("/api/bills/999999999", "unknown_bill")],
)
def test_nothing_at_an_api_address_is_a_json_404(floor, url, code):
    assert_error(floor["biller"].get(url), 404, code)


def test_an_anonymous_api_call_is_a_json_401(db):
    assert_error(Client().get("/api/bills"), 401, "not_logged_in")
    assert_error(Client().post("/api/scan/parent", "{}", content_type="application/json"), 401, "not_logged_in")


def test_a_csrf_failure_under_the_api_is_json(floor, area):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(factories.make_user("edge-csrf", area=area))

    response = strict.post("/api/scan/parent", "{}", content_type="application/json")

    assert_error(response, 403, "csrf_failed")


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code"),
    [
        ("text/plain", "{}", 415, "unsupported_media_type"),
        ("application/json", "[1, 2]", 400, "bad_request"),
        ("application/json", "{not json", 400, "bad_request"),
        ("application/json", json.dumps({"code": "x" * 5000}), 413, "too_large"),
    ],
)
def test_a_body_that_is_not_a_small_json_object_is_refused(floor, content_type, body, status, code):
    before = _writes()

    response = floor["dispatcher"].post("/api/scan/parent", body, content_type=content_type)

    assert_error(response, status, code)
    assert _writes() == before


def _buggy_client(monkeypatch, target: str) -> Client:
    """A dispatcher's client whose ``target`` raises, answered as a real server would (no re-raise)."""

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(target, broken)
    client = Client(raise_request_exception=False)
    client.force_login(Bag.objects.get(qr_id="SB10001").created_by)
    return client


def test_a_bug_under_the_api_is_a_json_500(floor, monkeypatch):
    response = _buggy_client(monkeypatch, "scanning.api.selectors.recent_scans").get("/api/scan/recent")

    assert_error(response, 500, "server_error")


@pytest.mark.parametrize(("url", "status"), [("/no-such-page/", 404), ("/bills/", 403)])
def test_an_error_page_is_branded_and_fits_a_phone(floor, url, status):
    response = floor["dispatcher"].get(url)

    page = response.content.decode()
    assert response.status_code == status
    assert "error.html" in [template.name for template in response.templates]
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert 'href="/"' in page and "tt-bottom-bar" in page  # a way home, and the logged-in user's bottom bar
    assert "Not Found" not in page  # Django's bare page


def test_the_server_error_page_is_branded_without_a_session(floor, monkeypatch):
    client = _buggy_client(monkeypatch, "scanning.views.selectors.bag_detail")

    response = client.get("/scan/lookup/?code=SB10001")

    page = response.content.decode()
    assert response.status_code == 500
    assert '<meta name="viewport"' in page and "Server error" in page and 'href="/"' in page


def test_a_refusal_raised_in_a_page_view_is_the_error_page_with_its_status(floor, monkeypatch):
    def refuse(**kwargs):
        raise Refused(EdgeRefusal.FORBIDDEN, "Not on this shift.", status=403)

    monkeypatch.setattr("scanning.views.selectors.bag_detail", refuse)

    response = floor["dispatcher"].get("/scan/lookup/?code=SB10001")

    assert response.status_code == 403
    assert "Not on this shift." in response.content.decode()


def test_a_refusal_code_must_come_from_an_enum():
    with pytest.raises(TypeError):
        Refused("made_up", "A code typed by hand.")


def test_the_api_document_lists_the_refusal_codes_of_the_enums(client):
    listed = client.get("/api/openapi.json").json()["components"]["schemas"]["Error"]["properties"]["code"]["enum"]

    assert {"not_logged_in", "child_in_other_parent", "bill_number_taken", "empty", "method_not_allowed"} <= set(listed)
    assert set(listed) == {member.value for codes in API_REFUSALS for member in codes}
