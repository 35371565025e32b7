"""A bag's story, read from the append-only events alone: its timeline and where it was at any time.

The events are scanning's (scanning_scan) and bills' (bills_billevent), never updated or deleted, so what
they say about the past stays true. What each scan event does to "which parent holds child X" is one rule
(the plan of issue 17): link, import and move put it into ``parent``; unlink and delete take it out of any;
an undo takes it out of the parent it names and, if it took back a move, puts it back into the move's
``from_parent``. A parent is on a bill from its ``added`` (or ``reopened``, ``finalised``) event until that
bill's ``removed`` or ``returned`` one: read per bill, as a returned parent's entry stays on its old bill
while it goes onto a new one.

Both answers are one raw-SQL statement each (the bag page and GET /api/bags/<code> are on everyone's path),
over the indexes the events already have: a child's events by ``bag_id``, a parent's by ``parent_id`` and,
for moves out of it, through the children it ever held (every child that was in a parent went in by an event
naming it). tests/tracking/test_story.py checks both against a plain replay of the events in Python
(tests/tracking/replay.py) over random link/move/undo/unlink/bill/return sequences.
"""

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext, gettext_lazy

from bags.choices import BagKind
from bills.choices import BillEventAction, BillStatus
from scanning.choices import ScanAction
from traitortrack.forms import FIRST_DAY, LAST_DAY, OUT_OF_RANGE

# The scan actions that say where a child is (the others, open_parent and complete, are a parent's own).
PUTS_IN = [ScanAction.LINK.value, ScanAction.IMPORT.value, ScanAction.MOVE.value]
TAKES_OUT = [ScanAction.UNLINK.value, ScanAction.DELETE.value]
CHILD_ACTIONS = [*PUTS_IN, *TAKES_OUT, ScanAction.UNDO.value]
# The bill events after which the parent is on that bill, and the bill's status then.
ON_BILL = {
    BillEventAction.ADDED.value: BillStatus.DRAFT.value,
    BillEventAction.REOPENED.value: BillStatus.DRAFT.value,
    BillEventAction.FINALISED.value: BillStatus.FINALISED.value,
}
# A parent's events are few (its opening, a scan per child in and out, its bills); a cap keeps a bag with an
# unusual history from making the page huge: the newest are shown.
TIMELINE_LIMIT = 500

# The holder after a child event ``s`` (``r`` the scan an undo took back), as the rule above says.
_HOLDER = f"""CASE WHEN s.action = ANY(%(puts_in)s) THEN s.parent_id
     WHEN s.action = {ScanAction.UNDO.literal} AND r.action = {ScanAction.MOVE.literal} THEN r.from_parent_id END"""
_HOLDER_QR = f"""CASE WHEN s.action = ANY(%(puts_in)s) THEN s.parent_qr
     WHEN s.action = {ScanAction.UNDO.literal} AND r.action = {ScanAction.MOVE.literal} THEN r.from_parent_qr END"""

# Every event of a bag, newest first: its making (the bag row's own time and maker: ``source`` -1, before any
# event of the same instant), its own scan events (a child's; a parent's opening, completion and
# deletion), for a parent the events of the children it ever held that put them in, took them out or moved
# them away from it, and its bill events. A dispatcher (``restricted``) sees of a child only the events naming
# a parent of their area, as the bag detail shows its scans (a child moves to each parent's area).
TIMELINE_SQL = f"""
WITH bag AS (
    SELECT id, kind, qr_id, created_at, created_by_id FROM bags_bag WHERE qr_id = %(qr_id)s
), held AS (
    SELECT DISTINCT s.bag_id FROM scanning_scan AS s
    WHERE s.parent_id = (SELECT id FROM bag) AND s.action = ANY(%(puts_in)s)
), ids AS (
    SELECT s.id FROM scanning_scan AS s WHERE s.bag_id = (SELECT id FROM bag)
    UNION
    SELECT s.id FROM scanning_scan AS s WHERE s.parent_id = (SELECT id FROM bag)
    UNION
    SELECT s.id FROM held
    JOIN scanning_scan AS s ON s.bag_id = held.bag_id
    LEFT JOIN scanning_scan AS r ON r.id = s.reverts_id
    WHERE s.from_parent_id = (SELECT id FROM bag) OR r.from_parent_id = (SELECT id FROM bag)
)
SELECT * FROM (
    SELECT 0 AS source, s.id, s.action, s.created_at, s.device_time, u.username, s.bag_qr, s.parent_qr,
           s.from_parent_qr, s.reason, r.action AS reverted_action, r.from_parent_qr AS reverted_from_qr,
           EXISTS (SELECT 1 FROM scanning_scan AS undo WHERE undo.reverts_id = s.id) AS undone,
           '' AS bill_number, '' AS return_ticket, NULL::bigint AS bill_id
    FROM ids
    JOIN scanning_scan AS s ON s.id = ids.id
    LEFT JOIN scanning_scan AS r ON r.id = s.reverts_id
    LEFT JOIN accounts_user AS u ON u.id = s.user_id
    LEFT JOIN bags_bag AS parent ON parent.id = s.parent_id
    LEFT JOIN bags_bag AS from_parent ON from_parent.id = s.from_parent_id
    WHERE NOT %(restricted)s OR (SELECT kind FROM bag) = {BagKind.PARENT.literal}
       OR parent.dispatch_area_id = %(area_id)s OR from_parent.dispatch_area_id = %(area_id)s
    UNION ALL
    SELECT 1, e.id, e.action, e.created_at, NULL, u.username, e.parent_qr, '', '', '', NULL, NULL, false,
           e.bill_number, e.return_ticket, e.bill_id
    FROM bills_billevent AS e
    LEFT JOIN accounts_user AS u ON u.id = e.user_id
    WHERE e.parent_bag_id = (SELECT id FROM bag)
    UNION ALL
    SELECT -1, bag.id, 'created', bag.created_at, NULL, u.username, bag.qr_id, '', '', '', NULL, NULL, false,
           '', '', NULL
    FROM bag
    LEFT JOIN accounts_user AS u ON u.id = bag.created_by_id
) AS events
ORDER BY created_at DESC, source DESC, id DESC
LIMIT %(limit)s
"""  # noqa: S608 (only enum literals are put in; every value is bound)
TIMELINE_COLUMNS = (
    "source",
    "id",
    "action",
    "at",
    "device_time",
    "username",
    "bag_qr",
    "parent_qr",
    "from_parent_qr",
    "reason",
    "reverted_action",
    "reverted_from_qr",
    "undone",
    "bill_number",
    "return_ticket",
    "bill_id",
)

# Where the bag was at ``at``: for a child, the parent that held it (after its last event then) and since
# when; for a parent, the children it held (each after its own last event then); and the bill the parent (a
# child's: its parent then) was on, per bill its last event then. A parent of another area is named to a
# dispatcher (``restricted``) only as such (no code, no bill), as the scan answers do.
AS_OF_SQL = f"""
WITH bag AS (
    SELECT id FROM bags_bag WHERE qr_id = %(qr_id)s
), child_last AS (
    SELECT s.id, s.created_at, {_HOLDER} AS holder_id, {_HOLDER_QR} AS holder_qr
    FROM scanning_scan AS s
    LEFT JOIN scanning_scan AS r ON r.id = s.reverts_id
    WHERE s.bag_id = (SELECT id FROM bag) AND s.action = ANY(%(child_actions)s) AND s.created_at <= %(at)s
      AND %(kind)s = {BagKind.CHILD.literal}
    ORDER BY s.created_at DESC, s.id DESC
    LIMIT 1
), holder AS (
    SELECT child_last.holder_id AS id, child_last.holder_qr AS qr_id, child_last.created_at AS since,
           NOT %(restricted)s OR holder_bag.dispatch_area_id IS NOT DISTINCT FROM %(area_id)s::bigint AS visible
    FROM child_last
    LEFT JOIN bags_bag AS holder_bag ON holder_bag.id = child_last.holder_id
    WHERE child_last.holder_id IS NOT NULL
), billed AS (
    SELECT CASE WHEN %(kind)s = {BagKind.PARENT.literal} THEN (SELECT id FROM bag)
                ELSE (SELECT id FROM holder WHERE visible) END AS parent_id
), bill_last AS (
    SELECT DISTINCT ON (e.bill_id) e.bill_id, e.bill_number, e.action, e.created_at, e.id
    FROM bills_billevent AS e
    WHERE e.parent_bag_id = (SELECT parent_id FROM billed) AND e.created_at <= %(at)s
    ORDER BY e.bill_id, e.created_at DESC, e.id DESC
), bill AS (
    SELECT bill_id, bill_number, action, created_at FROM bill_last
    WHERE action = ANY(%(on_bill)s)
    ORDER BY created_at DESC, id DESC
    LIMIT 1
), candidates AS (
    SELECT DISTINCT s.bag_id FROM scanning_scan AS s
    WHERE s.parent_id = (SELECT id FROM bag) AND s.action = ANY(%(puts_in)s) AND s.created_at <= %(at)s
      AND %(kind)s = {BagKind.PARENT.literal}
), children AS (
    SELECT last.bag_qr, last.created_at, last.id
    FROM candidates
    CROSS JOIN LATERAL (
        SELECT s.id, s.bag_qr, s.created_at, {_HOLDER} AS holder_id
        FROM scanning_scan AS s
        LEFT JOIN scanning_scan AS r ON r.id = s.reverts_id
        WHERE s.bag_id = candidates.bag_id AND s.action = ANY(%(child_actions)s) AND s.created_at <= %(at)s
        ORDER BY s.created_at DESC, s.id DESC
        LIMIT 1
    ) AS last
    WHERE last.holder_id = (SELECT id FROM bag)
)
SELECT (SELECT json_build_object('qr_id', CASE WHEN visible THEN qr_id END, 'since', since) FROM holder),
       (SELECT json_build_object('id', bill_id, 'bill_number', bill_number, 'action', action, 'since', created_at)
        FROM bill),
       (SELECT json_agg(json_build_object('qr_id', bag_qr, 'since', created_at) ORDER BY created_at, id)
        FROM children)
"""  # noqa: S608 (only enum literals are put in; every value is bound)


@dataclass(frozen=True)
class Held:
    """Where a bag was: a parent (``qr_id`` None for a parent of another area, to a dispatcher) or a child."""

    qr_id: str | None
    since: datetime


@dataclass(frozen=True)
class BillAt:
    id: int
    bill_number: str
    status: str  # the bill's status then (BillStatus)
    since: datetime


@dataclass(frozen=True)
class AsOf:
    """A bag at ``at``: its parent then (a child), the children it held then (a parent), its bill then."""

    at: datetime
    existed: bool  # the bag had been made by then
    parent: Held | None
    bill: BillAt | None
    children: tuple[Held, ...]


def _params(qr_id: str, *, restricted: bool, area_id: int | None) -> dict[str, Any]:
    return {
        "qr_id": qr_id,
        "restricted": restricted,
        "area_id": area_id,
        "puts_in": PUTS_IN,
        "child_actions": CHILD_ACTIONS,
        "on_bill": list(ON_BILL),
    }


def timeline(qr_id: str, *, restricted: bool, area_id: int | None, limit: int = TIMELINE_LIMIT) -> list[dict]:
    """The bag's events, newest first (TIMELINE_SQL), each a dict of TIMELINE_COLUMNS."""
    with connection.cursor() as cursor:
        cursor.execute(TIMELINE_SQL, {**_params(qr_id, restricted=restricted, area_id=area_id), "limit": limit})
        return [dict(zip(TIMELINE_COLUMNS, row, strict=True)) for row in cursor.fetchall()]


def as_of(qr_id: str, *, kind: str, created_at: datetime, at: datetime, restricted: bool, area_id: int | None) -> AsOf:
    """Where the bag was at ``at`` (AS_OF_SQL), from the events alone."""
    with connection.cursor() as cursor:
        cursor.execute(AS_OF_SQL, {**_params(qr_id, restricted=restricted, area_id=area_id), "kind": kind, "at": at})
        parent, bill, children = (_json(value) for value in cursor.fetchone())
    return AsOf(
        at=at,
        existed=created_at <= at,
        parent=Held(parent["qr_id"], _time(parent["since"])) if parent else None,
        bill=BillAt(bill["id"], bill["bill_number"], ON_BILL[bill["action"]], _time(bill["since"])) if bill else None,
        children=tuple(Held(child["qr_id"], _time(child["since"])) for child in children or ()),
    )


def _json(value: Any) -> Any:
    # Django's PostgreSQL backend hands json back as text.
    return json.loads(value) if isinstance(value, str) else value


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


_SCAN_SENTENCES = {
    # (action, what the undo took back or ""): the sentence on a child's own timeline.
    (ScanAction.LINK, ""): gettext_lazy("Linked into {parent}"),
    (ScanAction.IMPORT, ""): gettext_lazy("Linked into {parent} by an import"),
    (ScanAction.MOVE, ""): gettext_lazy("Moved from {from_parent} to {parent}"),
    (ScanAction.UNLINK, ""): gettext_lazy("Unlinked from {parent}"),
    (ScanAction.UNDO, ScanAction.MOVE): gettext_lazy("Move undone: back from {parent} into {reverted_from}"),
    (ScanAction.UNDO, ""): gettext_lazy("Scan into {parent} undone"),
    (ScanAction.DELETE, ""): gettext_lazy("Deleted"),
    (ScanAction.OPEN_PARENT, ""): gettext_lazy("Opened for scanning"),
    (ScanAction.COMPLETE, ""): gettext_lazy("Marked complete"),
}
_BILL_SENTENCES = {
    BillEventAction.ADDED: gettext_lazy("Put on bill {bill}"),
    BillEventAction.REMOVED: gettext_lazy("Taken off bill {bill}"),
    BillEventAction.FINALISED: gettext_lazy("Bill {bill} finalised"),
    BillEventAction.REOPENED: gettext_lazy("Bill {bill} reopened"),
    BillEventAction.RETURNED: gettext_lazy("Returned from bill {bill} on {ticket}"),
}


def sentence(event: dict[str, Any], *, bag_qr: str) -> str:
    """What an event of the timeline did, told from the bag ``bag_qr``'s side: a child's own events ("Moved
    from SB1 to SB2"), a parent's children's ("C1 moved out to SB2")."""
    if event["source"] == -1:
        return gettext("Created")
    if event["source"] == 1:
        text = _BILL_SENTENCES[event["action"]]
        return text.format(bill=event["bill_number"], ticket=event["return_ticket"] or gettext("a return ticket"))
    action = event["action"]
    reverted = event["reverted_action"] if action == ScanAction.UNDO and event["reverted_action"] == "move" else ""
    text = _SCAN_SENTENCES[(action, reverted)].format(
        parent=event["parent_qr"], from_parent=event["from_parent_qr"], reverted_from=event["reverted_from_qr"]
    )
    if event["bag_qr"] != bag_qr:  # a child's event on its parent's timeline
        text = _child_sentence(event, bag_qr=bag_qr, reverted=reverted)
    if event["reason"]:
        text = gettext("%(text)s (%(reason)s)") % {"text": text, "reason": event["reason"]}
    return text


def _child_sentence(event: dict[str, Any], *, bag_qr: str, reverted: str) -> str:
    child, action = event["bag_qr"], event["action"]
    if action == ScanAction.MOVE:
        if event["from_parent_qr"] == bag_qr:
            return gettext("%(child)s moved out to %(parent)s") % {"child": child, "parent": event["parent_qr"]}
        return gettext("%(child)s moved in from %(parent)s") % {"child": child, "parent": event["from_parent_qr"]}
    if reverted:
        if event["reverted_from_qr"] == bag_qr:
            return gettext("%(child)s back in from %(parent)s (move undone)") % {
                "child": child,
                "parent": event["parent_qr"],
            }
        return gettext("%(child)s back to %(parent)s (move undone)") % {
            "child": child,
            "parent": event["reverted_from_qr"],
        }
    sentences = {
        ScanAction.LINK: gettext_lazy("%(child)s linked in"),
        ScanAction.IMPORT: gettext_lazy("%(child)s linked in by an import"),
        ScanAction.UNLINK: gettext_lazy("%(child)s unlinked"),
        ScanAction.UNDO: gettext_lazy("%(child)s taken out (scan undone)"),
        ScanAction.DELETE: gettext_lazy("%(child)s deleted"),
    }
    return sentences[action] % {"child": child}


def parse_at(raw: str) -> datetime:
    """An ``?at=`` time: ISO 8601 (the page's datetime-local field sends ``2026-11-20T10:17``), in the
    warehouses' time zone unless it names an offset. A time given to the minute or the second means its end
    (10:17 is up to 10:17:59.999999), so a bag scanned during it is there. Raises ValueError with a sentence for
    anything else."""
    try:
        parsed = parse_datetime(raw.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValueError(
            gettext("%(value)r is not a date and time: write it as 2026-11-20T10:17.") % {"value": raw[:40]}
        )
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    if not FIRST_DAY <= timezone.localtime(parsed).date() <= LAST_DAY:
        raise ValueError(OUT_OF_RANGE)
    given = _TIME_GIVEN.search(raw)
    if given and not given["fraction"]:
        parsed += timedelta(seconds=1 if given["second"] else 60, microseconds=-1)
    return parsed


# The time of day in an ISO 8601 date and time, to tell how precisely it was given.
_TIME_GIVEN = re.compile(r"[T ]\d{2}:\d{2}(?::(?P<second>\d{2})(?P<fraction>[.,]\d+)?)?")


def timeline_json(event: dict[str, Any], *, bag_qr: str) -> dict[str, Any]:
    """A timeline event as GET /api/bags/<code>/story answers it (tracking/openapi.py)."""
    return {
        "source": SOURCES[event["source"]],
        "id": event["id"],
        "action": event["action"],
        "text": sentence(event, bag_qr=bag_qr),
        "at": _iso(event["at"]),
        "device_time": _iso(event["device_time"]) if event["device_time"] else None,
        "user": event["username"],
        "bag": event["bag_qr"],
        "parent": event["parent_qr"] or None,
        "from_parent": event["from_parent_qr"] or None,
        "reason": event["reason"] or None,
        "undone": event["undone"],
        "bill_number": event["bill_number"] or None,
        "return_ticket": event["return_ticket"] or None,
    }


def as_of_json(state: AsOf) -> dict[str, Any]:
    """An as-of answer as GET /api/bags/<code>?at= carries it (tracking/openapi.py)."""
    bill = None
    if state.bill is not None:
        bill = {"bill_number": state.bill.bill_number, "status": state.bill.status, "since": _iso(state.bill.since)}
    return {
        "at": _iso(state.at),
        "existed": state.existed,
        "parent": {"qr_id": state.parent.qr_id, "since": _iso(state.parent.since)} if state.parent else None,
        "bill": bill,
        "children": [{"qr_id": child.qr_id, "since": _iso(child.since)} for child in state.children],
    }


SOURCES = {-1: "bag", 0: "scan", 1: "bill"}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
