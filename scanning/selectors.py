"""Reads for the scan pages and the scan API (no writes here)."""

from typing import Any

from django.db.models import Exists, OuterRef
from django.utils.dateparse import parse_datetime

from accounts.models import DispatchArea, User
from bags import qr
from bags.managers import BagDetail, BagState
from bags.models import Bag
from bags.selectors import parent_formats_for_pages
from scanning.managers import ScanJSON
from scanning.models import Scan, ScanAction

RECENT_SCANS = 10


def recent_scans(user: User, *, limit: int = RECENT_SCANS) -> list[dict[str, Any]]:
    """The user's latest scan events, newest first, each saying whether it was undone since."""
    scans = (
        Scan.objects.filter(user=user)
        .annotate(event=ScanJSON(Exists(Scan.objects.filter(reverts=OuterRef("pk")))))
        .order_by("-created_at", "-pk")
    )
    return list(scans.values_list("event", flat=True)[:limit])


def scan_page_context(user: User, *, session: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the scan page needs to work offline: the parent formats (and capacities), so it can tell a
    parent code from a child code and a full parent without the server, the command barcodes' codes, and
    the user's recent scans; for a biller or an admin, the dispatch areas a new parent can be made in.
    ``session`` is when the session ends (accounts.middleware.session_deadlines), for the page's warning."""
    return {
        "parent_formats": parent_formats_for_pages(),
        "child_pattern": qr.CHILD_SQL_REGEX,
        # The command barcodes it acts on, by name ("done", "new_parent", ...): the page keeps no copy.
        "commands": {command.name.lower(): command.value for command in qr.Command},
        "recent_scans": recent_scans(user),
        "user_id": user.pk,
        "session": session,
        # None for a dispatcher, whose new parents are made in their own area (scanning.services.open_parent).
        "areas": None if user.is_dispatcher else areas_for_new_parents(),
    }


def areas_for_new_parents() -> list[dict[str, Any]]:
    """The areas a biller or admin may choose for a new parent: the ones in use, by name."""
    return list(DispatchArea.objects.filter(is_active=True).order_by("name").values("id", "name"))


def _bag_json(bag: BagState) -> dict[str, Any]:
    return {
        "qr_id": bag.qr_id,
        "kind": bag.kind,
        "product": bag.product,
        "child_count": bag.child_count if bag.is_parent else None,
        "capacity": bag.capacity,
        "complete": bag.complete,
        "dispatch_area": bag.dispatch_area,
        "created_at": bag.created_at.isoformat(),
    }


def bag_detail(*, user: User, code: str, scans: int = RECENT_SCANS) -> BagDetail | None:
    """A bag with its parent or children, its bill and its latest ``scans`` scans (one query); None if there
    is no such bag or the user may not see it. Raises QRCodeError for a code no bag can have."""
    return Bag.objects.detail(user=user, qr_id=qr.normalise(code), scans=scans)


def lookup_json(detail: BagDetail) -> dict[str, Any]:
    """A bag's detail in the lookup API's shape (GET /api/bags/<code>: tracking.api, tracking/openapi.py)."""
    parent = None
    if detail.parent is not None:
        parent = {**_bag_json(detail.parent), "linked_at": detail.linked_at.isoformat()}
    bill = None
    if detail.bill is not None:
        bill = {"bill_number": detail.bill.bill_number, "customer": detail.bill.customer, "status": detail.bill.status}
    return {
        "bag": _bag_json(detail.bag),
        "parent": parent,
        "children": [{"qr_id": child.qr_id, "linked_at": child.linked_at.isoformat()} for child in detail.children],
        "bill": bill,
        "scans": list(detail.scans),
    }


def scan_history(scans: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    """Scans in the API's shape as the pages list them: their time as a datetime (shown in local time), the
    action's name and who scanned (``by``: one query for the few shown; the API's scan shape has no user)."""
    labels = dict(ScanAction.choices)
    by = dict(Scan.objects.filter(pk__in=[scan["id"] for scan in scans]).values_list("pk", "user__username"))
    return [
        {
            **scan,
            "at": parse_datetime(scan["at"]),
            "action_label": labels.get(scan["action"], scan["action"]),
            "by": by.get(scan["id"], ""),
        }
        for scan in scans
    ]
