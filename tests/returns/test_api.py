"""The JSON return ticket API; every answer here is also checked against the OpenAPI document (tests/openapi.py)."""

import json

import pytest

from bills.models import BillBag
from returns.models import ReturnTicket
from tests import factories

pytestmark = pytest.mark.django_db


def post(client, url: str, body=None):
    return client.post(url, json.dumps(body or {}), content_type="application/json")


def test_a_ticket_is_made_scanned_and_committed_over_the_api(biller_client, dispatched):
    made = post(biller_client, "/api/returns", {"source": "Jaipur mandi", "notes": "Two torn"})
    assert made.status_code == 201
    ticket = made.json()["ticket"]
    assert ticket["number"].startswith("RTN-") and ticket["status"] == "draft"

    scanned = post(
        biller_client, f"/api/returns/{ticket['id']}/parents", {"code": "SB00001", "client_scan_id": "scan-0001"}
    )
    assert scanned.status_code == 200
    body = scanned.json()
    assert (body["code"], body["replayed"], body["ticket"]["parent_count"], body["ticket"]["child_count"]) == (
        "parent_added",
        False,
        1,
        3,
    )
    assert body["ticket"]["parents"][0]["bill_number"] == "INV-7"

    committed = post(biller_client, f"/api/returns/{ticket['id']}/commit")
    assert committed.status_code == 200
    assert committed.json()["ticket"]["status"] == "committed"
    assert BillBag.objects.get(parent_bag__qr_id="SB00001").returned_on == ticket["number"]

    bill = biller_client.get(f"/api/bills/{dispatched.pk}").json()["bill"]
    assert [(parent["qr_id"], parent["returned_on"]) for parent in bill["parents"]] == [
        ("SB00001", ticket["number"]),
        ("SB00002", None),
    ]


def test_a_repeated_scan_is_answered_as_the_first(biller_client, dispatched, ticket):
    url = f"/api/returns/{ticket.pk}/parents"
    first = post(biller_client, url, {"code": "SB00001", "client_scan_id": "scan-0001"})

    again = post(biller_client, url, {"code": "SB00001", "client_scan_id": "scan-0001"})

    assert again.status_code == 200
    assert again.json()["replayed"] is True
    assert again.json()["message"] == first.json()["message"]
    assert again.json()["ticket"]["parent_count"] == 1


def test_a_refusal_is_the_error_body(biller_client, dispatched, ticket):
    url = f"/api/returns/{ticket.pk}/parents"
    post(biller_client, url, {"code": "SB00001", "client_scan_id": "scan-0001"})

    refused = post(biller_client, url, {"code": "SB00001", "client_scan_id": "scan-0002"})

    assert refused.status_code == 409
    assert refused.json() == {
        "ok": False,
        "code": "already_on_this_ticket",
        "message": "SB00001 is already on this ticket. Nothing changed.",
        "warning": None,
        "ticket": None,
    }


def test_a_scan_without_a_client_id_is_a_400(biller_client, dispatched, ticket):
    refused = post(biller_client, f"/api/returns/{ticket.pk}/parents", {"code": "SB00001"})
    assert (refused.status_code, refused.json()["code"]) == (400, "bad_client_scan_id")


def test_a_ticket_without_a_source_is_a_422(biller_client):
    refused = post(biller_client, "/api/returns", {"source": "  "})
    assert (refused.status_code, refused.json()["code"]) == (422, "invalid")
    assert not ReturnTicket.objects.exists()


def test_remove_and_cancel(biller_client, dispatched, ticket):
    post(biller_client, f"/api/returns/{ticket.pk}/parents", {"code": "SB00001", "client_scan_id": "scan-0001"})

    removed = biller_client.delete(f"/api/returns/{ticket.pk}/parents/SB00001")
    cancelled = post(biller_client, f"/api/returns/{ticket.pk}/cancel")

    assert removed.json()["ticket"]["parent_count"] == 0
    assert cancelled.json()["ticket"]["status"] == "cancelled"
    assert post(biller_client, f"/api/returns/{ticket.pk}/commit").json()["code"] == "ticket_not_draft"


def test_the_list_searches_by_number_source_and_parent(biller_client, biller, dispatched, ticket):
    factories.make_return_ticket(biller, source="Kota depot")
    post(biller_client, f"/api/returns/{ticket.pk}/parents", {"code": "SB00001", "client_scan_id": "scan-0001"})

    def numbers(query: str) -> list[str]:
        return [found["number"] for found in biller_client.get(f"/api/returns?{query}").json()["tickets"]]

    assert len(numbers("")) == 2
    assert numbers("q=kota") == [ReturnTicket.objects.get(source="Kota depot").number]
    assert numbers("q=sb00001") == [ticket.number]
    assert numbers(f"q={ticket.number[-4:]}&status=draft&sort=number") == [ticket.number]


def test_an_unknown_ticket_is_a_404(biller_client):
    assert biller_client.get("/api/returns/999999").json()["code"] == "unknown_ticket"


def test_dispatchers_are_refused(client, db):
    client.force_login(factories.make_user("dispatcher1"))
    assert client.get("/api/returns").status_code == 403
