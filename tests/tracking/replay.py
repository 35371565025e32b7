"""A bag's story the slow, obvious way: the events read through the ORM once, then replayed in Python one by
one, with the rule of tracking/story.py written out again. tracking.story's SQL must answer the same."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q

from bags.models import Bag
from bills.models import BillEvent
from scanning.models import Scan, ScanAction
from tracking.story import CHILD_ACTIONS, ON_BILL, PUTS_IN, TIMELINE_COLUMNS, AsOf, BillAt, Held


def _order(event) -> tuple:
    return (event.created_at, event.pk)


@dataclass(frozen=True)
class Events:
    """Every scan and bill event naming one of some bags' codes, oldest first, and the areas of the bags."""

    scans: list[Scan]
    bill_events: list[BillEvent]
    areas: dict[int, int | None]

    @classmethod
    def of(cls, codes: list[str]) -> "Events":
        scans = Scan.objects.filter(Q(bag_qr__in=codes) | Q(parent_qr__in=codes) | Q(from_parent_qr__in=codes))
        bill_events = BillEvent.objects.filter(parent_qr__in=codes).select_related("user")
        return cls(
            scans=sorted(scans.select_related("reverts", "user"), key=_order),
            bill_events=sorted(bill_events, key=_order),
            areas=dict(Bag.objects.values_list("pk", "dispatch_area_id")),
        )

    def undone(self, scan: Scan) -> bool:
        return any(event.reverts_id == scan.pk for event in self.scans)


def holder_after(event: Scan) -> tuple[int | None, str | None]:
    """Which parent holds the child after this event of its (id, code), by the rule."""
    if event.action in PUTS_IN:
        return event.parent_id, event.parent_qr
    if event.action == ScanAction.UNDO and event.reverts.action == ScanAction.MOVE:
        return event.reverts.from_parent_id, event.reverts.from_parent_qr
    return None, None


def where_children_were(events: Events, at: datetime) -> dict[int, tuple[int | None, str | None, Scan]]:
    """Every child's holder at ``at``: each child event up to then applied in order."""
    state: dict[int, tuple[int | None, str | None, Scan]] = {}
    for event in events.scans:
        if event.action in CHILD_ACTIONS and event.created_at <= at:
            state[event.bag_id] = (*holder_after(event), event)
    return state


def bill_at(events: Events, parent_id: int, at: datetime) -> BillAt | None:
    last: dict[int, BillEvent] = {}
    for event in events.bill_events:
        if event.parent_bag_id == parent_id and event.created_at <= at:
            last[event.bill_id] = event
    on = [event for event in last.values() if event.action in ON_BILL]
    if not on:
        return None
    event = max(on, key=_order)
    return BillAt(event.bill_id, event.bill_number, ON_BILL[event.action], event.created_at)


def replay_as_of(
    events: Events, bag: Bag, at: datetime, *, restricted: bool = False, area_id: int | None = None
) -> AsOf:
    children = where_children_were(events, at)
    parent, billed, held = None, bag.pk if bag.is_parent else None, ()
    if bag.is_parent:
        mine = sorted((event for holder, _, event in children.values() if holder == bag.pk), key=_order)
        held = tuple(Held(event.bag_qr, event.created_at) for event in mine)
    elif bag.pk in children and children[bag.pk][0] is not None:
        holder, code, event = children[bag.pk]
        visible = not restricted or (holder in events.areas and events.areas[holder] == area_id)
        parent = Held(code if visible else None, event.created_at)
        billed = holder if visible else None
    bill = bill_at(events, billed, at) if billed is not None else None
    return AsOf(at=at, existed=bag.created_at <= at, parent=parent, bill=bill, children=held)


def replay_timeline(
    events: Events, bag: Bag, *, restricted: bool = False, area_id: int | None = None
) -> list[dict[str, Any]]:
    """Every event touching the bag, newest first: the bag's own, those naming it as the parent, the moves
    from it, the undos of moves from it; its bill events; its making."""
    rows = []
    for event in events.scans:
        reverted = event.reverts
        if bag.pk not in (event.bag_id, event.parent_id, event.from_parent_id, reverted and reverted.from_parent_id):
            continue
        if restricted and not bag.is_parent:
            areas = {events.areas.get(pk) for pk in (event.parent_id, event.from_parent_id) if pk is not None}
            if area_id not in areas:
                continue
        values = (0, event.pk, event.action, event.created_at, event.device_time, event.user.username)
        values += (event.bag_qr, event.parent_qr, event.from_parent_qr, event.reason)
        values += (reverted.action if reverted else None, reverted.from_parent_qr if reverted else None)
        values += (events.undone(event), "", "", None)
        rows.append(dict(zip(TIMELINE_COLUMNS, values, strict=True)))
    for event in events.bill_events:
        if event.parent_bag_id != bag.pk:
            continue
        values = (1, event.pk, event.action, event.created_at, None, event.user.username if event.user else None)
        values += (
            event.parent_qr,
            "",
            "",
            "",
            None,
            None,
            False,
            event.bill_number,
            event.return_ticket,
            event.bill_id,
        )
        rows.append(dict(zip(TIMELINE_COLUMNS, values, strict=True)))
    maker = bag.created_by.username if bag.created_by else None
    values = (
        -1,
        bag.pk,
        "created",
        bag.created_at,
        None,
        maker,
        bag.qr_id,
        "",
        "",
        "",
        None,
        None,
        False,
        "",
        "",
        None,
    )
    rows.append(dict(zip(TIMELINE_COLUMNS, values, strict=True)))
    return sorted(rows, key=lambda row: (row["at"], row["source"], row["id"]), reverse=True)
