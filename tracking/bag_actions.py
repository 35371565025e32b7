"""The admins' bulk actions on bags (the bag list's tick boxes, and the Django admin's actions on Bag): delete
empty parents, change the dispatch area. Each is all or nothing, in one transaction, after the bags are locked.

Deleting follows the rules of deleting a wrong bag (tracking/services.py, one bag at a time): the bag's scan
events stay (they keep its code), a ``delete`` event with the reason ends its story, and the audit log keeps a
before-snapshot. Only an empty parent goes here: no children, and no bill entry at all (a returned parent's
entry stays on its finalised bill, which must go on showing it); anything else is refused by name, and its
own page deletes it with its children after a confirm.
"""

from dataclasses import dataclass

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import DispatchArea, User
from audit.choices import AuditAction
from audit.services import record, snapshot
from bags.models import Bag, BagKind, Link
from bills.models import BillBag
from scanning.models import Scan, ScanAction
from traitortrack.errors import RefusalCode, Refused

# Bags one action takes: a page of the list is 50; the admin's "select all" could be two million.
MAX_BAGS = 100
REASON_MAX_LENGTH = Scan._meta.get_field("reason").max_length
# Blockers named in a refusal; the rest are counted.
NAMED = 5


class BagActionRefusal(RefusalCode):
    """A bulk action on bags that cannot be done as asked."""

    NO_BAGS = "no_bags"
    UNKNOWN_BAGS = "unknown_bags"
    TOO_MANY_BAGS = "too_many_bags"
    REASON_REQUIRED = "reason_required"
    NOT_EMPTY_PARENTS = "not_empty_parents"
    CHILDREN_IN_PARENTS = "children_in_parents"
    SAME_AREA = "same_area"


class BagActionRefused(Refused):
    pass


@dataclass(frozen=True)
class Planned:
    """A bag an action would take, and why it cannot (None: it can)."""

    bag: Bag
    blocker: str | None


def _bags(codes: list[str], *, lock: bool = False) -> list[Bag]:
    codes = sorted({code.strip().upper() for code in codes if code.strip()})
    if not codes:
        raise BagActionRefused(BagActionRefusal.NO_BAGS, gettext("Tick the bags first."), status=400)
    if len(codes) > MAX_BAGS:
        raise BagActionRefused(
            BagActionRefusal.TOO_MANY_BAGS,
            gettext("%(count)s bags: one action takes at most %(MAX_BAGS)s.")
            % {"count": len(codes), "MAX_BAGS": MAX_BAGS},
            status=400,
        )
    bags = Bag.objects.filter(qr_id__in=codes).select_related("dispatch_area").order_by("pk")
    # The scan loop's order: each row locked by id, so two actions (or an action and a scan) queue, not deadlock.
    found = list(bags.select_for_update(of=("self",)) if lock else bags)
    missing = sorted(set(codes) - {bag.qr_id for bag in found})
    if missing:
        raise BagActionRefused(
            BagActionRefusal.UNKNOWN_BAGS,
            gettext("Nothing was done: no bag %(codes)s (any more).") % {"codes": ", ".join(missing[:NAMED])},
            status=404,
        )
    return found


def _bill_numbers(bags: list[Bag]) -> dict[int, str]:
    """Each bag's bill (the current one, else the one it was returned from)."""
    entries = BillBag.objects.filter(parent_bag__in=bags).order_by("returned_at").select_related("bill")
    numbers: dict[int, str] = {}
    for entry in entries:
        returned = (
            gettext(" (returned on %(returned_on)s)") % {"returned_on": entry.returned_on} if entry.returned_at else ""
        )
        numbers.setdefault(entry.parent_bag_id, f"{entry.bill.bill_number}{returned}")
    return numbers


def delete_plan(codes: list[str]) -> list[Planned]:
    """The bags ``codes`` name, each with what keeps it from going (read without locks: the confirm page)."""
    return _delete_plan(_bags(codes))


def _delete_plan(bags: list[Bag]) -> list[Planned]:
    bills = _bill_numbers([bag for bag in bags if bag.is_parent])
    planned = []
    for bag in bags:
        blocker = None
        if not bag.is_parent:
            blocker = gettext("is a child bag: delete it from its own page")
        elif bag.child_count:
            blocker = gettext("holds %(count)s children") % {"count": bag.child_count}
        elif bag.pk in bills:
            blocker = gettext("is on bill %(bill)s") % {"bill": bills[bag.pk]}
        planned.append(Planned(bag, blocker))
    return planned


def _refuse_blocked(planned: list[Planned], code: BagActionRefusal, what: str) -> None:
    blocked = [entry for entry in planned if entry.blocker]
    if not blocked:
        return
    named = "; ".join(f"{entry.bag.qr_id} {entry.blocker}" for entry in blocked[:NAMED])
    more = gettext("; and %(count)s more") % {"count": len(blocked) - NAMED} if len(blocked) > NAMED else ""
    raise BagActionRefused(
        # Translators: what is "deleted" or "moved"; named lists the bags with why each is kept.
        code,
        gettext("Nothing was %(what)s: %(named)s%(more)s.") % {"what": what, "named": named, "more": more},
    )


def _reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise BagActionRefused(BagActionRefusal.REASON_REQUIRED, gettext("Say why these bags are deleted."), status=400)
    return reason[:REASON_MAX_LENGTH]


def delete_empty_parents(*, user: User, codes: list[str], reason: str, request: HttpRequest | None = None) -> int:
    """Delete these parents, each with no children and on no bill (checked after locking them, so a scan or a
    bill that took one meanwhile refuses the whole action); a ``delete`` scan event with the reason and an
    audit entry with its before-snapshot for each. How many were deleted."""
    reason = _reason(reason)
    with transaction.atomic(durable=True):
        bags = _bags(codes, lock=True)
        _refuse_blocked(_delete_plan(bags), BagActionRefusal.NOT_EMPTY_PARENTS, gettext("deleted"))
        for bag in bags:
            record(
                actor=user,
                action=AuditAction.BAG_DELETE,
                obj=bag,
                before=snapshot(bag),
                after={"reason": reason},
                request=request,
            )
        Scan.objects.bulk_create(
            Scan(
                user=user,
                action=ScanAction.DELETE,
                bag_id=bag.pk,
                bag_qr=bag.qr_id,
                reason=reason,
                # The bag's area: the event is part of its story, which its area's dispatchers see.
                dispatch_area_id=bag.dispatch_area_id,
            )
            for bag in bags
        )
        Bag.objects.filter(pk__in=[bag.pk for bag in bags]).delete()
    return len(bags)


def area_plan(codes: list[str]) -> list[Planned]:
    """The bags ``codes`` name, each with what keeps its area from changing (the confirm page)."""
    return _area_plan(_bags(codes))


def _area_plan(bags: list[Bag]) -> list[Planned]:
    children = [bag for bag in bags if bag.kind == BagKind.CHILD]
    parents = dict(Link.objects.filter(child__in=children).values_list("child_id", "parent__qr_id") if children else [])
    return [
        Planned(bag, f"is in parent {parents[bag.pk]}: a child has its parent's area" if bag.pk in parents else None)
        for bag in bags
    ]


def change_area(
    *, user: User, codes: list[str], area: DispatchArea, request: HttpRequest | None = None
) -> tuple[int, int]:
    """Move these bags to ``area``, a parent with its children (a child takes its parent's area); refused
    for a child in a parent. Audited per bag named. How many bags were named and how many children went along."""
    with transaction.atomic(durable=True):
        bags = _bags(codes, lock=True)
        _refuse_blocked(_area_plan(bags), BagActionRefusal.CHILDREN_IN_PARENTS, gettext("moved"))
        moving = [bag for bag in bags if bag.dispatch_area_id != area.pk]
        if not moving:
            raise BagActionRefused(
                BagActionRefusal.SAME_AREA, gettext("Those bags are in %(name)s already.") % {"name": area.name}
            )
        parents = [bag.pk for bag in moving if bag.is_parent]
        # Children after their parents (locked above): the scan loop's order.
        now = timezone.now()
        children = Bag.objects.filter(parent_link__parent_id__in=parents)
        moved_children = children.update(dispatch_area=area, updated_at=now)
        Bag.objects.filter(pk__in=[bag.pk for bag in moving]).update(dispatch_area=area, updated_at=now)
        for bag in moving:
            record(
                actor=user,
                action=AuditAction.BAG_CHANGE,
                obj=bag,
                before={"dispatch_area": bag.dispatch_area.code if bag.dispatch_area else None},
                after={"dispatch_area": area.code, "children_moved": bag.child_count},
                request=request,
            )
    return len(moving), moved_children
