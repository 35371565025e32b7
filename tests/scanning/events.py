"""A scan event as scanning/openapi.py documents it, written out from the Scan row: what the one builder,
scanning_scan_json, must give (tests/scanning/test_scan_json.py)."""

from datetime import UTC
from typing import Any

from scanning.models import Scan


def documented_event(scan: Scan, *, undone: bool = False) -> dict[str, Any]:
    event = {
        "id": scan.pk,
        "client_scan_id": scan.client_scan_id,
        "action": scan.action,
        "bag": scan.bag_qr,
        "parent": scan.parent_qr,
        "at": scan.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "undone": undone,
    }
    if scan.reverts_id is not None:  # only an undo names the scan it takes back
        event["reverts"] = scan.reverts_id
    return event
