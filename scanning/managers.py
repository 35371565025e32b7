"""The scan loop's SQL: the hot path, written as CTE statements so one scan costs two round trips.

A child scan is one transaction of two statements, each one round trip to the database: ``BEGIN`` and
``child_scan_state``, which locks the parent and reads everything the rules need (the stored reply for
this client scan id, the parent and its product, the child and where it is); the service decides; then
``link_child``, which writes the child (if new), the link (bags_link's trigger moves the parent's count in
the same statement), the Scan event and the stored reply in one statement, and ``COMMIT`` (or, for a
refusal, the stored reply and ``COMMIT``).
ScanTransaction sends BEGIN and COMMIT with those statements: separate, as transaction.atomic sends
them, they were two more round trips a scan, and on two cores round trips are most of a scan's cost.

Every insert is ``ON CONFLICT DO NOTHING`` and each step feeds the next, so if a concurrent scan got in
first (the same child into another parent, a new child made by someone else) the statement writes nothing
and says so; the service rolls back and decides again on fresh data. Should a statement find its work
half done by another (a client id reused with another payload while the first was running), it raises
a serialization failure (scanning_write_conflict), so the COMMIT after it never runs.

The SQL lives in module constants with bound parameters only. tests/scanning/test_managers.py checks
each read against the plain ORM answer on the same data.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import OperationalError, connection, models, transaction
from psycopg import sql
from psycopg.errors import SerializationFailure
from psycopg.types.json import Jsonb

from bags.choices import BagKind
from scanning.choices import ScanAction

REPLY_SQL = """
SELECT status, body, user_id FROM scanning_scanreply WHERE client_scan_id = %(client_scan_id)s
"""

# The parent row is locked (FOR UPDATE) before anything about it is decided: scans into one parent
# queue here, so its count can never pass capacity. Whether it is full or complete, and would be full with
# this child, is bags_parent_full's and bags_parent_complete's answer, read under the lock. The writes stamp
# their rows with now(), the time the transaction began (the BEGIN sent with this read), so a scan's link,
# event and reply share one time.
CHILD_SCAN_STATE_SQL = f"""
WITH reply AS (
    SELECT status, body, user_id FROM scanning_scanreply WHERE client_scan_id = %(client_scan_id)s
), parent AS (
    SELECT id, qr_id, child_count, completed_at, dispatch_area_id, product_id
    FROM bags_bag
    WHERE qr_id = %(parent_qr)s AND kind = {BagKind.PARENT.literal}
    FOR UPDATE
), child AS (
    SELECT c.id, c.kind, l.parent_id, lp.qr_id AS parent_qr, lp.dispatch_area_id AS parent_area_id
    FROM bags_bag c
    LEFT JOIN bags_link l ON l.child_id = c.id
    LEFT JOIN bags_bag lp ON lp.id = l.parent_id
    WHERE c.qr_id = %(child_qr)s
)
SELECT reply.status, reply.body, reply.user_id,
       parent.id, parent.qr_id, parent.child_count,
       bags_parent_full(parent.child_count, product.capacity),
       bags_parent_complete(parent.completed_at, parent.child_count, product.capacity),
       bags_parent_full(parent.child_count + 1, product.capacity),
       parent.dispatch_area_id, area.name, product.name, product.capacity, product.child_weight_kg,
       child.id, child.kind, child.parent_id, child.parent_qr, child.parent_area_id
FROM (SELECT 1) AS one
LEFT JOIN reply ON true
LEFT JOIN parent ON true
LEFT JOIN accounts_dispatcharea AS area ON area.id = parent.dispatch_area_id
LEFT JOIN bags_product AS product ON product.id = parent.product_id
LEFT JOIN child ON true
"""  # noqa: S608 (only an enum literal is put in; every value is bound)


def _record_scan(action: ScanAction) -> str:
    """The tail both writes share: the Scan event for the ``scanned`` CTE's row (nothing when it is empty)
    and the reply kept for its client id, with the event's id and time added where they become known.
    ``action`` is a ScanAction member, never input."""
    return f"""
, scan AS (
    INSERT INTO scanning_scan (client_scan_id, user_id, action, bag_id, bag_qr, parent_id, parent_qr,
                               dispatch_area_id, reverts_id, device_time, created_at)
    SELECT %(client_scan_id)s, %(user_id)s, {action.literal}, scanned.bag_id, scanned.bag_qr, scanned.parent_id,
           %(parent_qr)s, %(area_id)s, NULL, %(device_time)s::timestamptz, now()
    FROM scanned
    ON CONFLICT (client_scan_id) DO NOTHING
    RETURNING id, client_scan_id, action, bag_qr, parent_qr, created_at, reverts_id
), reply AS (
    INSERT INTO scanning_scanreply (client_scan_id, user_id, status, body, created_at)
    SELECT %(client_scan_id)s, %(user_id)s, 200, %(body)s::jsonb || jsonb_build_object('scan', scanning_scan_json(
        scan.id, scan.client_scan_id, scan.action, scan.bag_qr, scan.parent_qr, scan.created_at, scan.reverts_id,
        false)), now()
    FROM scan
    ON CONFLICT (client_scan_id) DO NOTHING
    RETURNING body
)"""  # noqa: S608 (only an enum literal is put in; every value is bound)


# A child takes the area of the parent it goes into (a new one is made there; a loose one of another area, or
# of none, is moved there), so it is seen where it is: Bag.objects.restrict scopes by the bag's own area.
LINK_CHILD_SQL = f"""
WITH new_child AS (
    INSERT INTO bags_bag (qr_id, kind, product_id, dispatch_area_id, created_by_id, created_at, updated_at)
    SELECT %(child_qr)s, {BagKind.CHILD.literal}, NULL, %(area_id)s, %(user_id)s, now(), now()
    WHERE %(child_id)s::bigint IS NULL
    ON CONFLICT (qr_id) DO NOTHING
    RETURNING id
), child AS (
    SELECT id FROM new_child
    UNION ALL
    SELECT %(child_id)s::bigint WHERE %(child_id)s::bigint IS NOT NULL
), link AS (
    INSERT INTO bags_link (parent_id, child_id, created_by_id, created_at)
    SELECT %(parent_id)s, id, %(user_id)s, now() FROM child
    ON CONFLICT (child_id) DO NOTHING
    RETURNING child_id
), rehome AS (
    UPDATE bags_bag
    SET dispatch_area_id = %(area_id)s, updated_at = now()
    WHERE id = (SELECT child_id FROM link) AND dispatch_area_id IS DISTINCT FROM %(area_id)s::bigint
), scanned AS (
    SELECT child_id AS bag_id, %(child_qr)s AS bag_qr, %(parent_id)s::bigint AS parent_id FROM link
){_record_scan(ScanAction.LINK)}
SELECT EXISTS (SELECT 1 FROM link), (SELECT body FROM reply),
       CASE WHEN EXISTS (SELECT 1 FROM link) AND NOT EXISTS (SELECT 1 FROM reply)
            THEN scanning_write_conflict('linked, but the client scan id was taken meanwhile') END
"""  # noqa: S608 (only enum literals and the constant tail are put in; every value is bound)

# An existing bag's own product wins over the one its format suggests. The last column is the name of the
# area a biller or admin chose for a new parent (``area_id``), NULL when there is none or it is not in use.
PARENT_STATE_SQL = """
WITH reply AS (
    SELECT status, body, user_id FROM scanning_scanreply WHERE client_scan_id = %(client_scan_id)s
), bag AS (
    SELECT id, qr_id, kind, child_count, completed_at, dispatch_area_id, product_id
    FROM bags_bag WHERE qr_id = %(parent_qr)s
)
SELECT reply.status, reply.body, reply.user_id,
       bag.id, bag.kind, COALESCE(bag.child_count, 0), bags_parent_full(bag.child_count, product.capacity),
       bags_parent_complete(bag.completed_at, bag.child_count, product.capacity), bag.dispatch_area_id, area.name,
       product.id, product.name, product.capacity, product.child_weight_kg, product.is_active,
       (SELECT name FROM accounts_dispatcharea WHERE id = %(area_id)s::bigint AND is_active)
FROM (SELECT 1) AS one
LEFT JOIN reply ON true
LEFT JOIN bag ON true
LEFT JOIN accounts_dispatcharea AS area ON area.id = bag.dispatch_area_id
LEFT JOIN bags_product AS product
       ON product.id = COALESCE(bag.product_id, (SELECT id FROM bags_product WHERE code = %(product_code)s))
"""

OPEN_PARENT_SQL = f"""
WITH new_parent AS (
    INSERT INTO bags_bag (qr_id, kind, product_id, dispatch_area_id, created_by_id, created_at, updated_at)
    SELECT %(parent_qr)s, {BagKind.PARENT.literal}, %(product_id)s, %(area_id)s, %(user_id)s, now(), now()
    WHERE %(parent_id)s::bigint IS NULL
    ON CONFLICT (qr_id) DO NOTHING
    RETURNING id
), parent AS (
    SELECT id FROM new_parent
    UNION ALL
    SELECT %(parent_id)s::bigint WHERE %(parent_id)s::bigint IS NOT NULL
), scanned AS (
    SELECT id AS bag_id, %(parent_qr)s AS bag_qr, id AS parent_id FROM parent
){_record_scan(ScanAction.OPEN_PARENT)}
SELECT (SELECT id FROM parent), (SELECT body FROM reply),
       CASE WHEN EXISTS (SELECT 1 FROM new_parent) AND NOT EXISTS (SELECT 1 FROM reply)
            THEN scanning_write_conflict('parent created, but the client scan id was taken meanwhile') END
"""  # noqa: S608 (only enum literals and the constant tail are put in; every value is bound)

# A scan event as the API shows it, from its values: scanning_scan_json (scanning/migrations/0006), the one
# place the shape is built, which the scan SQL above calls too.
EVENT_JSON_SQL = "SELECT scanning_scan_json(%s, %s, %s, %s, %s, %s, %s, %s)"
# scanning_scan_json's arguments but the last (undone): the scan's columns.
SCAN_JSON_COLUMNS = ("id", "client_scan_id", "action", "bag_qr", "parent_qr", "created_at", "reverts_id")

STORE_REPLY_SQL = """
INSERT INTO scanning_scanreply (client_scan_id, user_id, status, body, created_at)
VALUES (%(client_scan_id)s, %(user_id)s, %(status)s, %(body)s, now())
ON CONFLICT (client_scan_id) DO NOTHING
RETURNING status
"""

# The bill a parent is on now (its entry not returned, as bills.BillBag.objects.current() reads it), with the
# bill's status: a finalised bill froze its parents' children, so no move, undo or unlink takes one out. Read
# here in SQL, as bills sits above scanning. FOR SHARE holds the bill row until the scan commits: a finalise
# (which locks it FOR UPDATE first) cannot freeze the parent between this check and the scan's write, and one
# that got in first is waited for and its status read.
FINALISED = "finalised"  # bills.choices.BillStatus.FINALISED (tests/scanning/test_managers.py holds them equal)
CURRENT_BILL_SQL = """
SELECT bill.bill_number, bill.status
FROM bills_billbag AS entry
JOIN bills_bill AS bill ON bill.id = entry.bill_id
WHERE entry.parent_bag_id = %(parent_id)s AND entry.returned_at IS NULL
FOR SHARE OF bill
"""


@dataclass(frozen=True)
class StoredReply:
    status: int
    body: dict[str, Any]
    user_id: int


@dataclass(frozen=True)
class ChildScanState:
    """What a child scan's rules look at, read with the parent locked."""

    reply: StoredReply | None
    parent_id: int | None
    parent_qr: str | None
    child_count: int | None
    # bags_parent_full and bags_parent_complete, read under the lock (all false when there is no parent).
    full: bool
    complete: bool
    full_with_one_more: bool  # full once this scan's child is in
    parent_area_id: int | None
    parent_area_name: str | None
    product_name: str | None
    capacity: int | None
    child_weight_kg: Decimal | None
    child_id: int | None
    child_kind: str | None
    child_parent_id: int | None
    child_parent_qr: str | None
    child_parent_area_id: int | None


@dataclass(frozen=True)
class ParentScanState:
    """What opening a parent looks at: the stored reply, the bag with this code if any, and its product."""

    reply: StoredReply | None
    bag_id: int | None
    bag_kind: str | None
    child_count: int  # 0, full and complete false for a parent not made yet
    full: bool
    complete: bool
    area_id: int | None
    area_name: str | None
    product_id: int | None
    product_name: str | None
    capacity: int | None
    child_weight_kg: Decimal | None
    product_is_active: bool | None
    chosen_area_name: str | None = None  # the area asked for (area_id), None if none, no such area or not in use


def _json(value: str | dict | None) -> dict | None:
    # Django's PostgreSQL backend hands jsonb back as text (JSONField decodes it itself).
    return json.loads(value) if isinstance(value, str) else value


def _reply(status: int | None, body: str | None, user_id: int | None) -> StoredReply | None:
    return None if status is None else StoredReply(status, _json(body), user_id)


# Raised by the write statements when they find their work half done by a concurrent request.
WRITE_CONFLICT = SerializationFailure.sqlstate


def is_write_conflict(error: OperationalError) -> bool:
    return getattr(error.__cause__, "sqlstate", None) == WRITE_CONFLICT


class ScanTransaction:
    """One scan's transaction, with BEGIN sent together with its first statement and COMMIT with its last.

    ``with Scan.objects.transaction() as tx:`` then ``tx.child_scan_state(...)`` (BEGIN; lock and read) and
    ``tx.link_child(...)`` or ``tx.store_reply(...)`` (write; COMMIT). Leaving the block before the last
    statement, by an exception or by a replay found in the first read, rolls back. A statement sent before
    the transaction began (``store_reply`` of a code refused before any read) runs on its own.

    Inside another transaction (a test's), a savepoint stands in for BEGIN, COMMIT and ROLLBACK. Outside a
    test, being inside another atomic block is refused, as transaction.atomic(durable=True) refuses it: a
    scan is committed when it is answered.
    """

    def __init__(self) -> None:
        self._open = False

    def __enter__(self) -> "ScanTransaction":
        if connection.in_atomic_block:
            with transaction.atomic(durable=True):  # raises unless the outer block is a test's
                pass
            self._begin, self._commit = "SAVEPOINT scan_transaction", "RELEASE SAVEPOINT scan_transaction"
            self._rollback = "ROLLBACK TO SAVEPOINT scan_transaction; RELEASE SAVEPOINT scan_transaction"
        else:
            self._begin, self._commit, self._rollback = "BEGIN", "COMMIT", "ROLLBACK"
        self._cursor = connection.cursor()
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self._open:
                self._open = False
                self._cursor.execute(self._rollback)
        finally:
            self._cursor.close()

    def _first(self, sql: str, params: dict[str, Any]) -> tuple:
        """BEGIN and the transaction's first statement, in one round trip; the statement's row."""
        self._open = True  # from here on, leaving the block rolls back (the statement may fail after BEGIN)
        self._cursor.execute(f"{self._begin};\n{sql}", params)
        self._cursor.nextset()  # past BEGIN's empty result
        return self._cursor.fetchone()

    def _last(self, sql: str, params: dict[str, Any]) -> tuple | None:
        """The transaction's last statement and COMMIT, in one round trip (or the statement alone if no
        transaction was begun); the statement's row. If the statement fails, COMMIT is not run."""
        if not self._open:
            self._cursor.execute(sql, params)
            return self._cursor.fetchone()
        self._cursor.execute(f"{sql};\n{self._commit}", params)
        self._open = False
        return self._cursor.fetchone()

    def child_scan_state(self, *, client_scan_id: str, parent_qr: str, child_qr: str) -> ChildScanState:
        """Begin, lock the parent (if it exists) and read the rest."""
        row = self._first(
            CHILD_SCAN_STATE_SQL, {"client_scan_id": client_scan_id, "parent_qr": parent_qr, "child_qr": child_qr}
        )
        return ChildScanState(_reply(*row[:3]), *row[3:])

    def link_child(
        self,
        *,
        client_scan_id: str,
        user_id: int,
        area_id: int | None,
        parent_id: int,
        parent_qr: str,
        child_id: int | None,
        child_qr: str,
        body: dict[str, Any],
        device_time: datetime | None = None,
    ) -> dict[str, Any] | None:
        """Write a child scan (child if new, link, the child into ``area_id``, event, reply; the link's trigger
        counts it) and commit; the stored reply, or None if a concurrent scan got in first and nothing was
        written (the caller decides again)."""
        linked, stored, _ = self._last(
            LINK_CHILD_SQL,
            {
                "client_scan_id": client_scan_id,
                "user_id": user_id,
                "area_id": area_id,
                "parent_id": parent_id,
                "parent_qr": parent_qr,
                "child_id": child_id,
                "child_qr": child_qr,
                "body": Jsonb(body),
                "device_time": device_time,
            },
        )
        return _json(stored) if linked else None

    def parent_scan_state(
        self, *, client_scan_id: str, parent_qr: str, product_code: str, area_id: int | None = None
    ) -> ParentScanState:
        """Begin and read what opening a parent looks at (and the name of area ``area_id``, a new parent's)."""
        row = self._first(
            PARENT_STATE_SQL,
            {
                "client_scan_id": client_scan_id,
                "parent_qr": parent_qr,
                "product_code": product_code,
                "area_id": area_id,
            },
        )
        return ParentScanState(_reply(*row[:3]), *row[3:])

    def open_parent(
        self,
        *,
        client_scan_id: str,
        user_id: int,
        area_id: int | None,
        parent_id: int | None,
        parent_qr: str,
        product_id: int,
        body: dict[str, Any],
        device_time: datetime | None = None,
    ) -> dict[str, Any] | None:
        """Create the parent if new (in ``area_id``), record the open and commit; the stored reply, or None
        if a concurrent scan got in first and nothing was written."""
        _, stored, _ = self._last(
            OPEN_PARENT_SQL,
            {
                "client_scan_id": client_scan_id,
                "user_id": user_id,
                "area_id": area_id,
                "parent_id": parent_id,
                "parent_qr": parent_qr,
                "product_id": product_id,
                "body": Jsonb(body),
                "device_time": device_time,
            },
        )
        return _json(stored)

    def store_reply(self, *, client_scan_id: str, user_id: int, status: int, body: dict[str, Any]) -> bool:
        """Keep an answer (a refusal) for this client scan id and commit; False if the id already has one."""
        params = {"client_scan_id": client_scan_id, "user_id": user_id, "status": status, "body": Jsonb(body)}
        return self._last(STORE_REPLY_SQL, params) is not None


# Links from pairs the caller selects (the bulk import's staged rows), each with its scan event, the children
# taking their parent's area, in one statement: with the scan loop's, scanning's one write of bags_link and
# scanning_scan. ``{pairs}`` yields (row_no, parent_id, parent_qr, dispatch_area_id, child_id, child_qr).
# Answers the links and events made and how many parents they fill, from the counts as they were before it
# (bags_link's trigger then adds the links to their parents' counts, once per parent).
LINK_PAIRS_SQL = """
WITH pairs AS MATERIALIZED ({pairs}), linked AS (
    INSERT INTO bags_link (parent_id, child_id, created_by_id, created_at)
    SELECT parent_id, child_id, %(user_id)s, %(now)s FROM pairs ORDER BY row_no
    RETURNING child_id
), scans AS (
    INSERT INTO scanning_scan (client_scan_id, user_id, action, bag_id, bag_qr, parent_id, parent_qr,
                               dispatch_area_id, reverts_id, created_at)
    SELECT NULL, %(user_id)s, %(action)s, child_id, child_qr, parent_id, parent_qr, dispatch_area_id, NULL, %(now)s
    FROM pairs ORDER BY row_no
    RETURNING 1
), rehomed AS (
    -- From the links written, so a child's row is locked only once its link is (as a scan does): a scan
    -- linking the same child can never hold the link while this import holds the row, each waiting on the other.
    UPDATE bags_bag c
    SET dispatch_area_id = pairs.dispatch_area_id, updated_at = %(now)s
    FROM linked JOIN pairs USING (child_id)
    WHERE c.id = linked.child_id AND c.dispatch_area_id IS DISTINCT FROM pairs.dispatch_area_id
), filled AS (
    SELECT 1
    FROM (SELECT parent_id, count(*)::integer AS n FROM pairs GROUP BY parent_id) AS added
    JOIN bags_bag b ON b.id = added.parent_id
    JOIN bags_product pr ON pr.id = b.product_id
    WHERE bags_parent_full(b.child_count + added.n, pr.capacity)
      AND NOT bags_parent_full(b.child_count, pr.capacity)
)
SELECT (SELECT count(*) FROM linked), (SELECT count(*) FROM scans), (SELECT count(*) FROM filled)
"""


class ScanJSON(models.Func):
    """Each scan of a queryset as the API shows it (scanning_scan_json): ``.annotate(event=ScanJSON(undone))``,
    ``undone`` an expression saying whether a later scan took it back."""

    function = "scanning_scan_json"
    output_field = models.JSONField()

    def __init__(self, undone: models.Expression) -> None:
        super().__init__(*SCAN_JSON_COLUMNS, undone)


class ScanManager(models.Manager):
    """The scan loop's reads and writes (raw SQL, hot path)."""

    def event_json(self, scan: models.Model, *, undone: bool = False) -> dict[str, Any]:
        """A scan event (one just written, as the undo and complete answers carry it) in the API's shape."""
        with connection.cursor() as cursor:
            cursor.execute(EVENT_JSON_SQL, [*(getattr(scan, column) for column in SCAN_JSON_COLUMNS), undone])
            return _json(cursor.fetchone()[0])

    def link_pairs(self, pg: Any, *, pairs: str, action: ScanAction, params: dict[str, Any]) -> tuple[int, int, int]:
        """Link the pairs ``pairs`` (a constant SELECT of the caller's, see LINK_PAIRS_SQL) selects, each with an
        ``action`` event by ``params["user_id"]`` at ``params["now"]``, on ``pg`` (a psycopg cursor: the bulk
        import's transaction); the links and events made, and the parents they filled."""
        pg.execute(sql.SQL(LINK_PAIRS_SQL).format(pairs=sql.SQL(pairs)), {**params, "action": action})
        return pg.fetchone()

    def transaction(self) -> ScanTransaction:
        """A scan's transaction (see ScanTransaction): its statements are methods of the object it gives."""
        return ScanTransaction()

    def stored_reply(self, client_scan_id: str) -> StoredReply | None:
        """The answer kept for a client scan id, read on its own (no transaction, no lock)."""
        with connection.cursor() as cursor:
            cursor.execute(REPLY_SQL, {"client_scan_id": client_scan_id})
            row = cursor.fetchone()
        return _reply(*row) if row else None

    def finalised_bill(self, parent_id: int) -> str | None:
        """The number of the finalised bill the parent is on now, if it is on one (CURRENT_BILL_SQL), holding
        that bill's row until the caller's transaction ends."""
        with connection.cursor() as cursor:
            cursor.execute(CURRENT_BILL_SQL, {"parent_id": parent_id})
            row = cursor.fetchone()
        return row[0] if row and row[1] == FINALISED else None

    def store_reply(self, *, client_scan_id: str, user_id: int, status: int, body: dict[str, Any]) -> bool:
        """Keep an answer for this client scan id, in the caller's transaction; False if the id has one."""
        with connection.cursor() as cursor:
            cursor.execute(
                STORE_REPLY_SQL,
                {"client_scan_id": client_scan_id, "user_id": user_id, "status": status, "body": Jsonb(body)},
            )
            return cursor.fetchone() is not None
