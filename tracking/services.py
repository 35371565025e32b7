"""Deleting a wrong bag: a child, or a parent with the children in it, by an admin, after a confirm page.

The bags' rows go; their story stays. Every bag deleted gets a ``delete`` scan event with the reason (the
events keep its id and code, never rewritten), and the deletion one audit entry holding each row as it was.
Refused while the parent (a child's: the parent it is in) is on a bill, naming the bill: a bill's parents are
what was dispatched, and the database refuses it too (the bill entry's foreign key, ON DELETE RESTRICT).
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import User
from audit.choices import AuditAction
from audit.services import record, snapshot
from bags import qr
from bags.models import Bag, Link
from bills.models import BillBag
from scanning.models import Scan, ScanAction
from tracking.error_codes import DeleteRefusal
from traitortrack.errors import Refused

REASON_MAX_LENGTH = Scan._meta.get_field("reason").max_length


@dataclass(frozen=True)
class Deletion:
    """What deleting ``bag`` takes: the bag, the parent it leaves (a child in one), the children that go with
    it (a parent), in the order they went in."""

    bag: Bag
    parent: Bag | None
    children: tuple[Bag, ...]

    @property
    def count(self) -> int:
        return 1 + len(self.children)


def _bill_refusal(bag: Bag, parent: Bag | None) -> Refused | None:
    holder = bag if bag.is_parent else parent
    if holder is None:
        return None
    entry = BillBag.objects.filter(parent_bag=holder).select_related("bill").order_by("-added_at", "-pk").first()
    if entry is None:
        return None
    bill = entry.bill.bill_number
    if entry.returned_at is not None:
        why = gettext(
            "%(qr_id)s was dispatched on bill %(bill)s (returned on %(returned_on)s): it stays as a record."
        ) % {"qr_id": holder.qr_id, "bill": bill, "returned_on": entry.returned_on}
    else:
        why = gettext("%(qr_id)s is on bill %(bill)s: take it off the bill first.") % {
            "qr_id": holder.qr_id,
            "bill": bill,
        }
    if holder is not bag:
        # Translators: why is one of the two sentences above, about the child's parent.
        why = gettext("%(qr_id)s is in %(why)s") % {"qr_id": bag.qr_id, "why": why}
    return Refused(DeleteRefusal.ON_BILL, why, bill=bill)


def plan_deletion(*, user: User, code: str, lock: bool = False) -> Deletion:
    """What deleting the bag ``code`` would take, or the refusal: admins only; not a parent (or a child's
    parent) on a bill. With ``lock`` (inside the deletion's transaction) the rows are locked, parent first."""
    if not user.is_admin:
        raise Refused(DeleteRefusal.ADMIN_ONLY, gettext("Only an admin can delete a bag."), status=403)
    try:
        qr_id = qr.normalise(code)
    except qr.QRCodeError as error:
        raise Refused(error.code, error.message, status=422) from error
    bag = Bag.objects.select_related("product", "dispatch_area").filter(qr_id=qr_id).first()
    if bag is None:
        raise Refused(DeleteRefusal.UNKNOWN_BAG, gettext("No bag %(qr_id)s.") % {"qr_id": qr_id}, status=404)
    parent = _parent_of(bag)
    if lock:
        # The scan loop's order: the parent before the child. Then read again what the lock now holds still.
        if parent is not None:
            _lock(parent.pk)
        bag = (
            Bag.objects.select_for_update(of=("self",))
            .select_related("product", "dispatch_area")
            .filter(pk=bag.pk)
            .first()
        )
        if bag is None:
            raise Refused(DeleteRefusal.UNKNOWN_BAG, gettext("No bag %(qr_id)s.") % {"qr_id": qr_id}, status=404)
        if _parent_of(bag) != parent:
            raise Refused(
                DeleteRefusal.IN_USE,
                gettext("%(qr_id)s was just moved; look at it again before deleting it.") % {"qr_id": qr_id},
            )
    refusal = _bill_refusal(bag, parent)
    if refusal is not None:
        raise refusal
    children: tuple[Bag, ...] = ()
    if bag.is_parent:
        links = Link.objects.filter(parent=bag).select_related("child").order_by("created_at", "pk")
        if lock:
            links = links.select_for_update(of=("child",))
        children = tuple(link.child for link in links)
    return Deletion(bag=bag, parent=parent, children=children)


def _before(deletion: Deletion) -> dict:
    return {
        "bag": snapshot(deletion.bag),
        "parent": deletion.parent.qr_id if deletion.parent is not None else None,
        "children": [snapshot(child) for child in deletion.children],
    }


def delete_bag(*, user: User, code: str, reason: str, request: HttpRequest | None = None) -> Deletion:
    """Delete a wrong bag and, for a parent, the children in it: one transaction, the parent locked first;
    a ``delete`` scan event per bag (with ``reason``), then one audit entry with every row as it was.
    Refused: not an admin, no reason (or one over 200 characters), a parent (or a child's parent) on a bill.
    """
    reason = (reason or "").strip()
    if not reason:
        raise Refused(DeleteRefusal.REASON_REQUIRED, gettext("Say why the bag is deleted."), status=400)
    if len(reason) > REASON_MAX_LENGTH:
        raise Refused(
            DeleteRefusal.REASON_REQUIRED,
            gettext("Say why in at most %(count)s characters.") % {"count": REASON_MAX_LENGTH},
            status=400,
        )
    try:
        with transaction.atomic(durable=True):
            deletion = plan_deletion(user=user, code=code, lock=True)
            _delete(deletion, user=user, reason=reason, request=request)
    except (IntegrityError, ProtectedError) as error:
        # Put on a bill (or a return ticket) meanwhile, after the check: the database's foreign keys refused it.
        refusal = _bill_refusal(*_fresh(code))
        if refusal is not None:
            raise refusal from error
        raise Refused(
            DeleteRefusal.IN_USE,
            gettext("%(code)s is in use elsewhere; it was not deleted.") % {"code": code.strip().upper()},
        ) from error
    return deletion


def _lock(pk: int) -> None:
    list(Bag.objects.select_for_update().filter(pk=pk).values_list("pk", flat=True))


def _parent_of(bag: Bag) -> Bag | None:
    if bag.is_parent:
        return None
    link = Link.objects.filter(child_id=bag.pk).select_related("parent").first()
    return link.parent if link is not None else None


def _fresh(code: str) -> tuple[Bag, Bag | None]:
    bag = Bag.objects.get(qr_id=qr.normalise(code))
    return bag, _parent_of(bag)


def _delete(deletion: Deletion, *, user: User, reason: str, request: HttpRequest | None) -> None:
    bag = deletion.bag
    # Recorded before the rows go, while the bag still has its id.
    record(
        actor=user,
        action=AuditAction.BAG_DELETE,
        obj=bag,
        before=_before(deletion),
        after={"reason": reason},
        request=request,
    )
    record_deletions(
        user=user, bags=[*((child, bag) for child in deletion.children), (bag, deletion.parent)], reason=reason
    )
    # The links first (bags_link's trigger keeps the parent's count), then the bags.
    ids = [child.pk for child in deletion.children] + [bag.pk]
    Link.objects.filter(child_id__in=ids).delete()
    Bag.objects.filter(pk__in=ids).delete()


def record_deletions(*, user: User, bags: list[tuple[Bag, Bag | None]], reason: str) -> None:
    """A ``delete`` scan event for each (bag, the parent it is in or None) about to be deleted, in the caller's
    transaction: the deletions here, and the bag admin's own Delete (tracking/admin.py), so every deleted bag's
    story ends with its deletion."""
    now = timezone.now()
    Scan.objects.bulk_create(
        Scan(
            user=user,
            action=ScanAction.DELETE,
            bag_id=bag.pk,
            bag_qr=bag.qr_id,
            parent_id=parent.pk if parent is not None else None,
            parent_qr=parent.qr_id if parent is not None else "",
            reason=reason,
            dispatch_area_id=bag.dispatch_area_id,
            created_at=now,
        )
        for bag, parent in bags
    )
