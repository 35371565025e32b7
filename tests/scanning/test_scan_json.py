"""A scan event has one JSON shape, built in one place (scanning_scan_json): the scan API's answers, the bag
lookup API, the lookup page, the recent-scans list and the scan page's own list all give the same event."""

import json
import uuid

import pytest
from django.test import Client

from scanning.models import Scan, ScanAction
from tests import factories
from tests.scanning.events import documented_event
from tests.scanning.test_pages import scan_config

pytestmark = pytest.mark.django_db


@pytest.fixture
def dispatcher_client(area, mustard):
    client = Client()
    client.force_login(factories.make_user("disp", area=area))
    return client


def _scan(client: Client, url: str, **payload) -> dict:
    body = json.dumps({"client_scan_id": uuid.uuid4().hex, **payload})
    answer = client.post(url, body, content_type="application/json")
    assert answer.status_code == 200, answer.content
    return answer.json()["scan"]


def _everywhere(client: Client, code: str) -> list[list[dict]]:
    """The scans of ``code`` (a parent) as each place gives them, newest first."""
    page = client.get(f"/scan/lookup/?code={code}")
    return [
        client.get(f"/api/bags/{code}").json()["scans"],
        client.get("/api/scan/recent").json()["scans"],
        scan_config(client.get("/scan/"))["recent_scans"],
        # The lookup page lists the same events, with the time parsed, the action's name and who for people.
        [
            {key: value for key, value in scan.items() if key not in ("action_label", "by")}
            for scan in page.context["scans"]
        ],
    ]


def test_every_place_gives_a_scan_event_the_same_shape(dispatcher_client):
    opened = _scan(dispatcher_client, "/api/scan/parent", code="SB00001")
    linked = _scan(dispatcher_client, "/api/scan/child", parent="SB00001", code="C0000001")
    first = _everywhere(dispatcher_client, "SB00001")
    undone = _scan(dispatcher_client, "/api/scan/undo")
    completed = _scan(dispatcher_client, "/api/scan/complete", parent="SB00001")
    after = _everywhere(dispatcher_client, "SB00001")

    events = {scan.action: scan for scan in Scan.objects.all()}
    assert [opened, linked, undone, completed] == [
        documented_event(events[ScanAction.OPEN_PARENT]),
        documented_event(events[ScanAction.LINK]),
        documented_event(events[ScanAction.UNDO]),
        documented_event(events[ScanAction.COMPLETE]),
    ]
    assert "reverts" in undone and "reverts" not in linked
    api, recent, page, lookup_page = first
    assert api == recent == page == [linked, opened]
    assert [{**scan, "at": scan["at"].isoformat()} for scan in lookup_page] == [
        {**scan, "at": scan["at"].replace("Z", "+00:00")} for scan in api
    ]
    api, recent, page, _ = after
    assert api == recent == page == [completed, undone, {**linked, "undone": True}, opened]
