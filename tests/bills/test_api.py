"""The JSON bill API over HTTP (Django test client with CSRF checks on): who may call it, each operation,
refusals as 4xx with a sentence, bounded queries, and its OpenAPI description."""

import json
import re

import pytest
from django.test import Client
from django.urls import get_resolver
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.choices import AuditAction
from audit.models import AuditLog
from bills import openapi, services
from bills.models import Bill, BillBag, BillStatus
from tests import factories
from tests.bills.data import big_bill, parent_with


def client_for(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    if user.is_admin:  # past the second factor, as every admin must be (tests/conftest.py verified_login)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = TOTPDevice.objects.create(user=user, confirmed=True).persistent_id
        session.save()
    client.get("/")  # sets the csrftoken cookie (the log-out form), as every page does
    return client


@pytest.fixture
def api(biller):
    return client_for(biller)


@pytest.fixture
def bill(biller):
    return factories.make_bill(biller, bill_number="INV-7", customer="Jaipur mandi", expected_parents=3)


def send(client, method: str, url: str, payload=None):
    token = client.cookies["csrftoken"].value if "csrftoken" in client.cookies else ""
    body = payload if isinstance(payload, (str, bytes)) or payload is None else json.dumps(payload)
    return client.generic(method, url, body or "", content_type="application/json", headers={"X-CSRFToken": token})


def add(client, bill, code):
    return send(client, "POST", f"/api/bills/{bill.pk}/parents", {"code": code})


# --- Who may call it


def test_without_a_session_every_endpoint_answers_401_in_json(client, bill):
    for method, url in [
        ("GET", "/api/bills"),
        ("GET", f"/api/bills/{bill.pk}"),
        ("POST", f"/api/bills/{bill.pk}/parents"),
        ("POST", f"/api/bills/{bill.pk}/finalise"),
    ]:
        answer = client.generic(method, url)
        assert (answer.status_code, answer.json()["code"]) == (401, "not_logged_in"), url


def test_dispatchers_get_403_from_every_endpoint(dispatcher, bill):
    api = client_for(dispatcher)
    parent_with(2, "SB12345")

    answers = [
        api.get("/api/bills"),
        api.get(f"/api/bills/{bill.pk}"),
        send(api, "POST", "/api/bills", {"bill_number": "X"}),
        send(api, "PATCH", f"/api/bills/{bill.pk}", {"customer": "X"}),
        add(api, bill, "SB12345"),
        send(api, "DELETE", f"/api/bills/{bill.pk}/parents/SB12345"),
        send(api, "POST", f"/api/bills/{bill.pk}/finalise"),
        send(api, "POST", f"/api/bills/{bill.pk}/reopen"),
    ]

    assert {(answer.status_code, answer.json()["code"]) for answer in answers} == {(403, "forbidden")}
    assert not BillBag.objects.exists()


def test_writes_need_the_csrf_token(biller, bill):
    api = client_for(biller)
    parent_with(2, "SB12345")

    answer = api.post(f"/api/bills/{bill.pk}/parents", {"code": "SB12345"}, content_type="application/json")

    assert answer.status_code == 403
    assert answer.json()["code"] == "csrf_failed"
    assert not BillBag.objects.exists()


# --- The operations


def test_create_then_read_a_bill(api, moong):
    created = send(
        api,
        "POST",
        "/api/bills",
        {
            "bill_number": "INV-9",
            "customer": "Kota",
            "bill_date": "2026-11-23",
            "product": moong.pk,
            "expected_parents": 2,
        },
    )
    bill_id = created.json()["bill"]["id"]
    read = api.get(f"/api/bills/{bill_id}")

    assert created.status_code == 201
    assert created.json()["code"] == "created"
    assert read.json()["bill"] | {"created_at": None, "updated_at": None} == {
        "id": bill_id,
        "bill_number": "INV-9",
        "customer": "Kota",
        "bill_date": "2026-11-23",
        "status": "draft",
        "expected_parents": 2,
        "notes": "",
        "product_id": moong.pk,
        "product": "Moong",
        "full_parent_weight_kg": "15.000",
        "parent_count": 0,
        "child_count": 0,
        "actual_weight_kg": "0.000",
        "expected_weight_kg": "30.000",
        "difference_kg": "-30.000",
        "weight_state": "short",
        "created_by": "biller1",
        "created_at": None,
        "updated_at": None,
        "finalised_at": None,
        "finalised_by": None,
        "url": f"/bills/{bill_id}/",
        "parents": [],
    }


def test_bad_bill_details_are_a_422_with_errors_per_field(api, bill):
    answer = send(api, "POST", "/api/bills", {"bill_number": "INV-9", "expected_parents": 900})

    body = answer.json()
    assert (answer.status_code, body["code"], body["ok"]) == (422, "invalid", False)
    assert set(body["errors"]) == {"customer", "bill_date", "product", "expected_parents"}


def test_a_taken_bill_number_is_a_409(api, bill):
    answer = send(
        api,
        "POST",
        "/api/bills",
        {
            "bill_number": "inv-7",
            "customer": "K",
            "bill_date": "2026-11-23",
            "product": factories.product().pk,
            "expected_parents": 1,
        },
    )

    assert (answer.status_code, answer.json()["code"]) == (409, "bill_number_taken")
    assert answer.json()["message"] == "Bill INV-7 already exists (bill numbers ignore case)."


def test_patch_changes_only_the_fields_sent(api, bill):
    answer = send(api, "PATCH", f"/api/bills/{bill.pk}", {"customer": "Kota", "expected_parents": 4})

    bill.refresh_from_db()
    assert (answer.status_code, answer.json()["code"]) == (200, "changed")
    assert (bill.customer, bill.expected_parents, bill.bill_number) == ("Kota", 4, "INV-7")
    assert AuditLog.objects.get(action=AuditAction.BILL_CHANGE).after["customer"] == "Kota"


def test_add_and_remove_parents_answer_with_the_whole_bill(api, bill):
    parent_with(30, "SB00001")
    parent_with(10, "M444-00001", product_code="moong")

    add(api, bill, "SB00001")
    added = add(api, bill, "m444-00001")
    removed = send(api, "DELETE", f"/api/bills/{bill.pk}/parents/SB00001")

    body = added.json()
    assert (added.status_code, body["code"], body["message"]) == (
        200,
        "parent_added",
        "M444-00001 added to INV-7: 2 of 3 parents.",
    )
    assert [(p["qr_id"], p["child_count"], p["weight_kg"]) for p in body["bill"]["parents"]] == [
        ("SB00001", 30, "30.000"),
        ("M444-00001", 10, "5.000"),
    ]
    assert (body["bill"]["actual_weight_kg"], body["bill"]["expected_weight_kg"], body["bill"]["difference_kg"]) == (
        "35.000",
        "90.000",
        "-55.000",
    )
    assert removed.json()["code"] == "parent_removed"
    assert [p["qr_id"] for p in removed.json()["bill"]["parents"]] == ["M444-00001"]


@pytest.mark.parametrize(
    ("code", "status", "refusal"),
    [
        ("C0000001", 422, "not_a_parent_code"),
        ("SB99999", 404, "unknown_parent"),
        ("SB00002", 409, "already_on_bill"),
        ("SB00001", 409, "already_on_this_bill"),
        ("", 422, "empty"),
    ],
)
def test_each_refusal_is_a_4xx_with_a_sentence(api, biller, bill, code, status, refusal):
    parent_with(3, "SB00001")
    parent_with(3, "SB00002")
    add(api, bill, "SB00001")
    other = factories.make_bill(biller, bill_number="INV-8")
    services.add_parent(user=biller, bill_id=other.pk, raw_code="SB00002")

    answer = add(api, bill, code)

    body = answer.json()
    assert (answer.status_code, body["ok"], body["code"]) == (status, False, refusal)
    assert body["message"]
    if refusal == "already_on_bill":
        assert body["message"] == "SB00002 is already on bill INV-8."


def test_finalise_then_changes_are_refused_then_an_admin_reopens(api, biller, admin_user, bill):
    parent_with(3, "SB00001")
    parent_with(3, "SB00002")
    add(api, bill, "SB00001")

    finalised = send(api, "POST", f"/api/bills/{bill.pk}/finalise")
    refused_add = add(api, bill, "SB00002")
    refused_remove = send(api, "DELETE", f"/api/bills/{bill.pk}/parents/SB00001")
    refused_patch = send(api, "PATCH", f"/api/bills/{bill.pk}", {"customer": "X"})
    biller_reopen = send(api, "POST", f"/api/bills/{bill.pk}/reopen")
    admin_reopen = send(client_for(admin_user), "POST", f"/api/bills/{bill.pk}/reopen")

    assert (finalised.status_code, finalised.json()["bill"]["status"]) == (200, "finalised")
    for refused in (refused_add, refused_remove, refused_patch):
        assert (refused.status_code, refused.json()["code"]) == (409, "bill_finalised")
    assert (biller_reopen.status_code, biller_reopen.json()["code"]) == (403, "admin_only")
    assert (admin_reopen.status_code, admin_reopen.json()["bill"]["status"]) == (200, "draft")
    assert Bill.objects.get().status == BillStatus.DRAFT


def test_the_children_are_listed_on_demand(api, bill):
    parent = parent_with(2, "SB00001")
    add(api, bill, "SB00001")

    plain = api.get(f"/api/bills/{bill.pk}").json()["bill"]["parents"][0]
    full = api.get(f"/api/bills/{bill.pk}?children=1").json()["bill"]["parents"][0]

    assert "child_codes" not in plain
    assert full["child_codes"] == list(
        parent.child_links.order_by("created_at", "pk").values_list("child__qr_id", flat=True)
    )


def test_an_unknown_bill_is_a_404(api):
    assert (
        api.get("/api/bills/999999999").status_code,
        send(api, "POST", "/api/bills/999999999/finalise").status_code,
    ) == (404, 404)


def test_the_list_searches_and_pages(api, biller, bill):
    for n in range(3):
        factories.make_bill(biller, bill_number=f"KOTA-{n}", customer="Kota")

    page = api.get("/api/bills", {"q": "kota", "sort": "bill_number", "per_page": 2, "page": 2}).json()

    assert (page["count"], page["page"], page["pages"]) == (3, 2, 2)
    assert [bill["bill_number"] for bill in page["bills"]] == ["KOTA-2"]


def test_a_body_that_is_not_json_is_a_400(api, bill):
    answer = send(api, "POST", f"/api/bills/{bill.pk}/parents", "not json")

    assert (answer.status_code, answer.json()["code"]) == (400, "bad_request")


def test_the_bill_of_50_parents_of_30_children_takes_at_most_4_queries(api, biller, django_assert_max_num_queries):
    bill = big_bill(biller, parents=50, children=30)

    with django_assert_max_num_queries(4) as captured:
        answer = api.get(f"/api/bills/{bill.pk}?children=1")

    assert answer.json()["bill"]["child_count"] == 1500
    assert len(captured.captured_queries) == 1  # the bill view (the user is kept from the client's first request)


# --- The OpenAPI description


def bill_routes() -> set[str]:
    """The bill API's routes as OpenAPI paths, found from the URL conf (not a hand list)."""
    routes = set()
    for pattern in get_resolver().url_patterns:
        for sub in getattr(pattern, "url_patterns", []):
            route = str(pattern.pattern) + str(sub.pattern)
            if route.startswith("api/bills"):
                routes.add("/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route))
    return routes


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/api/bills", {"get", "post"}),
        ("/api/bills/{bill_id}", {"get", "patch"}),
        ("/api/bills/{bill_id}/parents", {"post"}),
        ("/api/bills/{bill_id}/parents/{code}", {"delete"}),
        ("/api/bills/{bill_id}/finalise", {"post"}),
        ("/api/bills/{bill_id}/reopen", {"post"}),
    ],
)
def test_each_route_is_documented_with_its_methods(api, path, methods):
    documented = openapi.paths()[path]
    url = path.replace("{bill_id}", "1").replace("{code}", "SB00001")

    assert set(documented) - {"parameters"} == methods
    for method in {"get", "post", "patch", "delete", "put"} - methods:
        assert send(api, method.upper(), url).status_code == 405, (method, path)


def test_every_bill_route_is_in_the_openapi_paths(db):
    assert bill_routes() == set(openapi.paths())


def test_the_schema_references_resolve(db):
    schemas = openapi.schemas()
    text = json.dumps(openapi.paths()) + json.dumps(schemas)

    for name in re.findall(r"#/components/schemas/(\w+)", text):
        assert name in schemas, name
