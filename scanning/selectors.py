"""Reads for the scan pages and the scan API (no writes here)."""

from typing import Any

from django.db.models import Exists, OuterRef

from accounts.models import User
from bags import qr
from bags.models import Bag, Link, Product
from bills.models import BillBag
from scanning.models import Scan
from scanning.services import scan_json

RECENT_SCANS = 10


def recent_scans(user: User, *, limit: int = RECENT_SCANS) -> list[dict[str, Any]]:
    """The user's latest scan events, newest first, each saying whether it was undone since."""
    scans = (
        Scan.objects.filter(user=user)
        .annotate(undone=Exists(Scan.objects.filter(reverts=OuterRef("pk"))))
        .order_by("-created_at", "-pk")[:limit]
    )
    return [scan_json(scan, undone=scan.undone) for scan in scans]


def scan_page_context(user: User, *, session: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the scan page needs to work offline: the parent formats (and capacities), so it can tell a
    parent code from a child code and a full parent without the server, and the user's recent scans.
    ``session`` is when the session ends (accounts.middleware.session_deadlines), for the page's warning."""
    capacities = dict(Product.objects.values_list("code", "capacity"))
    formats = [
        {
            "prefix": fmt.prefix,
            "digits": fmt.digits,
            "product": fmt.product_name,
            "capacity": capacities.get(fmt.product_code),
        }
        for fmt in Product.objects.parent_formats()
    ]
    return {"parent_formats": formats, "recent_scans": recent_scans(user), "user_id": user.pk, "session": session}


def _bag_json(bag: Bag) -> dict[str, Any]:
    return {
        "qr_id": bag.qr_id,
        "kind": bag.kind,
        "product": bag.product.name if bag.product else None,
        "child_count": bag.child_count if bag.is_parent else None,
        "capacity": bag.product.capacity if bag.product else None,
        "complete": bag.completed_at is not None
        or (bag.product is not None and bag.child_count >= bag.product.capacity),
        "dispatch_area": bag.dispatch_area.name if bag.dispatch_area else None,
        "created_at": bag.created_at.isoformat(),
    }


def lookup_bag(*, user: User, code: str) -> dict[str, Any] | None:
    """A bag with its parent or children, its bill and its last scans; None if there is no such bag
    or the user may not see it. Raises QRCodeError for a code no bag can have."""
    qr_id = qr.normalise(code)
    bag = Bag.objects.restrict(user).select_related("product", "dispatch_area").filter(qr_id=qr_id).first()
    if bag is None:
        return None
    parent = None
    children: list[dict[str, Any]] = []
    bill = None
    if bag.is_parent:
        children = [
            {"qr_id": child_qr, "linked_at": linked_at.isoformat()}
            for child_qr, linked_at in Link.objects.filter(parent=bag)
            .order_by("created_at", "pk")
            .values_list("child__qr_id", "created_at")
        ]
        entry = BillBag.objects.filter(parent_bag=bag).select_related("bill").first()
        if entry is not None:
            bill = {
                "bill_number": entry.bill.bill_number,
                "customer": entry.bill.customer,
                "status": entry.bill.status,
            }
    else:
        link = Link.objects.filter(child=bag).select_related("parent__product", "parent__dispatch_area").first()
        if link is not None:
            parent = {**_bag_json(link.parent), "linked_at": link.created_at.isoformat()}
    field = "parent" if bag.is_parent else "bag"
    scans = (
        Scan.objects.filter(**{field: bag})
        .annotate(undone=Exists(Scan.objects.filter(reverts=OuterRef("pk"))))
        .order_by("-created_at", "-pk")[:RECENT_SCANS]
    )
    return {
        "bag": _bag_json(bag),
        "parent": parent,
        "children": children,
        "bill": bill,
        "scans": [scan_json(scan, undone=scan.undone) for scan in scans],
    }
