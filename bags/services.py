"""Changes to bags and links made outside the scan loop (corrections in the admin, for now)."""

from django.db import transaction
from django.db.models import F
from django.http import HttpRequest

from accounts.models import User
from audit.services import record, snapshot
from bags.models import Bag, Link
from scanning.models import Scan, ScanAction


def unlink_child(*, link: Link, actor: User, request: HttpRequest | None = None) -> None:
    """Take a child out of its parent: audited, recorded as an unlink scan, the parent's count kept right.
    The child keeps the parent's area, which it took when linked.

    The parent row is locked first (the scan loop's order: parent before child), so a scan into the
    same parent cannot interleave with the count update.
    """
    with transaction.atomic():
        parent = Bag.objects.select_for_update().get(pk=link.parent_id)
        child = link.child
        record(actor=actor, action="link.delete", obj=link, before=snapshot(link), request=request)
        # Scans are the bag's history: an admin's unlink is part of it, like a dispatcher's.
        Scan.objects.create(
            user=actor,
            action=ScanAction.UNLINK,
            bag=child,
            bag_qr=child.qr_id,
            parent=parent,
            parent_qr=parent.qr_id,
            dispatch_area_id=actor.dispatch_area_id,
        )
        link.delete()
        Bag.objects.filter(pk=parent.pk).update(child_count=F("child_count") - 1)
