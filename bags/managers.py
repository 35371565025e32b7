import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import connection, connections, models, transaction
from psycopg import sql

from bags import qr
from bags.choices import BagKind

PARENT_FORMATS_CACHE_KEY = "bags:parent-formats:v1"

# A bag with its product and area, its parent and when it went in (a child), its children in the order they went
# in and its bill (a parent), and its latest scans, in one statement: the bag page and the lookup API are on
# the dispatcher's path. The query is the function bags_bag_detail (bags/migrations/0007_bag_detail_function.py,
# changed by 0009 and 0010), so that it is planned once per connection instead of on every lookup (the planning
# cost three times the execution). A bag the user may not see is no row at all (``restricted``: only bags of
# ``area_id``, Bag.objects.restrict's rule). A parent's scans are the ones naming it as the parent (its opening
# and every child scanned into it), a child's the ones naming it as the bag, as in scanning.selectors.recent_scans
# (when ``restricted``, only those naming a parent of ``area_id``: a child moves to each parent's area); each
# says whether a later scan undid it, in the scan API's shape (built by scanning_scan_json, the one place). Each
# part is a subquery under a CASE on the bag's kind, so only the part that applies runs.
BAG_DETAIL_SQL = "SELECT * FROM bags_bag_detail(%(qr_id)s, %(restricted)s, %(area_id)s, %(scans)s)"


# Bags whose code starts with ``prefix``, in code order from after ``after``, with the search's filters (each
# one off when its value is NULL or false: the values are bound client-side, so PostgreSQL sees the literals
# and drops the test). LIKE 'SB12%' with ORDER BY ... USING ~<~ is a range of the varchar_pattern_ops index
# on qr_id, read in its order until a page is full: a page costs the same whether the start matches ten codes
# or two million (newest first, a broad start would sort its whole range). "In a parent" is an EXISTS probe of
# bags_link per bag read, not a join: a join's estimate made the planner hash the whole links table.
BAG_CODE_SEARCH_SQL = """
SELECT bag.id, bag.qr_id, bag.kind, bag.child_count, bag.completed_at,
       bags_parent_complete(bag.completed_at, bag.child_count, product.capacity), bag.created_at,
       product.name, product.capacity, area.name,
       (SELECT parent.qr_id FROM bags_link AS link JOIN bags_bag AS parent ON parent.id = link.parent_id
        WHERE link.child_id = bag.id)
FROM bags_bag AS bag
LEFT JOIN bags_product AS product ON product.id = bag.product_id
LEFT JOIN accounts_dispatcharea AS area ON area.id = bag.dispatch_area_id
WHERE bag.qr_id LIKE %(pattern)s
  AND (%(after)s::text IS NULL OR bag.qr_id ~>~ %(after)s)
  AND (%(kind)s::text IS NULL OR bag.kind = %(kind)s)
  AND (%(product_id)s::bigint IS NULL OR bag.product_id = %(product_id)s)
  AND (%(area_id)s::bigint IS NULL OR bag.dispatch_area_id = %(area_id)s)
  AND (%(complete)s::boolean IS NULL
       OR bags_parent_complete(bag.completed_at, bag.child_count, product.capacity) = %(complete)s)
  AND (NOT %(linked_only)s OR EXISTS (SELECT 1 FROM bags_link AS link WHERE link.child_id = bag.id))
  AND (NOT %(unlinked_only)s OR NOT EXISTS (SELECT 1 FROM bags_link AS link WHERE link.child_id = bag.id))
  AND (%(created_from)s::timestamptz IS NULL OR bag.created_at >= %(created_from)s)
  AND (%(created_before)s::timestamptz IS NULL OR bag.created_at < %(created_before)s)
ORDER BY bag.qr_id USING ~<~
LIMIT %(limit)s
"""
CODE_SEARCH_COLUMNS = (
    "pk",
    "qr_id",
    "kind",
    "child_count",
    "completed_at",
    "complete",
    "created_at",
    "product_name",
    "capacity",
    "area_name",
    "parent_qr",
)


def code_search_params(
    *,
    prefix: str,
    limit: int,
    after: str | None = None,
    kind: str | None = None,
    product_id: int | None = None,
    area_id: int | None = None,
    complete: bool | None = None,
    linked: bool | None = None,
    created_from: datetime | None = None,
    created_before: datetime | None = None,
) -> dict[str, Any]:
    """BAG_CODE_SEARCH_SQL's parameters: up to ``limit`` bags whose code starts with ``prefix`` (upper-case,
    only the characters codes have: no LIKE wildcard) after the code ``after``; each filter off when None."""
    return {
        "pattern": f"{prefix}%",
        "after": after,
        "kind": kind,
        "product_id": product_id,
        "area_id": area_id,
        "complete": complete,
        "linked_only": linked is True,
        "unlinked_only": linked is False,
        "created_from": created_from,
        "created_before": created_before,
        "limit": limit,
    }


@dataclass(frozen=True)
class BagState:
    """A bag as the bag page and the lookup API show it."""

    qr_id: str
    kind: str
    product: str | None
    child_count: int
    capacity: int | None
    completed_at: datetime | None
    complete: bool  # as bags_parent_complete answered it
    dispatch_area: str | None
    created_at: datetime

    @property
    def is_parent(self) -> bool:
        return self.kind == qr.PARENT


@dataclass(frozen=True)
class ChildEntry:
    qr_id: str
    linked_at: datetime


@dataclass(frozen=True)
class BillEntry:
    id: int
    bill_number: str
    customer: str
    status: str


@dataclass(frozen=True)
class BagDetail:
    """A bag, its parent (a child in one) and when it went in, its children (a parent), its bill (a
    parent on one) and its latest scans, newest first, in the scan API's shape."""

    bag: BagState
    parent: BagState | None
    linked_at: datetime | None
    children: tuple[ChildEntry, ...]
    bill: BillEntry | None
    scans: tuple[dict[str, Any], ...]


def visible_area(user) -> tuple[bool, int | None]:
    """Whether this user sees only one area's bags, and which: a dispatcher their own, billers and admins all."""
    return (True, user.dispatch_area_id) if user.is_dispatcher else (False, None)


def parent_full(prefix: str = "") -> models.Func:
    """bags_parent_full (bags/migrations/0011_*) of the bag at ``prefix`` (say "parent_bag__"): its children
    reach its product's capacity. The ORM's one way to ask."""
    return models.Func(
        models.F(f"{prefix}child_count"),
        models.F(f"{prefix}product__capacity"),
        function="bags_parent_full",
        output_field=models.BooleanField(),
    )


def parent_complete(prefix: str = "") -> models.Func:
    """bags_parent_complete of the bag at ``prefix``: full, or marked complete. The ORM's one way to ask."""
    return models.Func(
        models.F(f"{prefix}completed_at"),
        models.F(f"{prefix}child_count"),
        models.F(f"{prefix}product__capacity"),
        function="bags_parent_complete",
        output_field=models.BooleanField(),
    )


# New bags from rows the caller selects (the bulk import's staged rows): with the scan statement's, the one
# INSERT into bags_bag outside the ORM. ``{source}`` yields (qr_id, kind, product_id, dispatch_area_id,
# row_no); the bags are written in row order, so their ids follow the file.
INSERT_BAGS_SQL = """
INSERT INTO bags_bag (qr_id, kind, product_id, dispatch_area_id, created_by_id, created_at, updated_at)
SELECT qr_id, kind, product_id, dispatch_area_id, %(user_id)s, %(now)s, %(now)s
FROM ({source}) AS new_bags
ORDER BY row_no
"""


class BagQuerySet(models.QuerySet):
    def restrict(self, user) -> "BagQuerySet":
        """The bags this user may see: a dispatcher only their own area's, billers and admins all."""
        restricted, area_id = visible_area(user)
        return self.filter(dispatch_area_id=area_id) if restricted else self

    def with_completion(self) -> "BagQuerySet":
        """Each bag with ``full`` and ``complete`` as the database defines them."""
        return self.annotate(full=parent_full(), complete=parent_complete())

    def insert_from(self, pg: Any, *, source: str, params: dict[str, Any]) -> int:
        """Write the new bags ``source`` (a constant SELECT of the caller's, see INSERT_BAGS_SQL) selects,
        made by ``params["user_id"]`` at ``params["now"]``, on ``pg`` (a psycopg cursor: the bulk import's
        transaction); how many were written."""
        pg.execute(sql.SQL(INSERT_BAGS_SQL).format(source=sql.SQL(source)), params)
        return pg.rowcount

    def search_codes(self, **search: Any) -> list[dict[str, Any]]:
        """Bags whose code starts with a prefix, after a code, in code order (BAG_CODE_SEARCH_SQL; the arguments
        are code_search_params'); each row as bags.selectors.search_rows gives it."""
        with connections[self.db].cursor() as cursor:  # the replica on the search page (traitortrack/replica.py)
            cursor.execute(BAG_CODE_SEARCH_SQL, code_search_params(**search))
            return [dict(zip(CODE_SEARCH_COLUMNS, row, strict=True)) for row in cursor.fetchall()]

    def detail(self, *, user, qr_id: str, scans: int) -> BagDetail | None:
        """The bag with this (normalised) code with its parent or children, bill and latest ``scans`` scans,
        in one query (BAG_DETAIL_SQL); None if there is none this user may see."""
        restricted, area_id = visible_area(user)
        with connection.cursor() as cursor:
            cursor.execute(
                BAG_DETAIL_SQL, {"qr_id": qr_id, "restricted": restricted, "area_id": area_id, "scans": scans}
            )
            row = cursor.fetchone()
        if row is None:
            return None
        parent, children, bill, events = (_json(value) for value in row[9:13])
        linked_at = None
        if parent is not None:
            linked_at = datetime.fromisoformat(parent.pop("linked_at"))
            parent = BagState(**{**parent, **_times(parent, "completed_at", "created_at")})
        return BagDetail(
            bag=BagState(*row[0:9]),
            parent=parent,
            linked_at=linked_at,
            children=tuple(
                ChildEntry(child["qr_id"], datetime.fromisoformat(child["linked_at"])) for child in children or ()
            ),
            bill=BillEntry(**bill) if bill is not None else None,
            scans=tuple(events or ()),
        )


def _json(value: Any) -> Any:
    # Django's PostgreSQL backend hands json back as text.
    return json.loads(value) if isinstance(value, str) else value


def _times(values: dict[str, Any], *names: str) -> dict[str, datetime | None]:
    """Timestamps of a json object (ISO 8601, UTC: Django's connections use UTC) as datetimes."""
    return {name: datetime.fromisoformat(values[name]) if values[name] else None for name in names}


# The formats as this process last read them, and until when (time.monotonic()) it may use them
# without asking the cache: every scan needs them, and a Redis round trip and an unpickle per scan was
# 7% of a scan's CPU. A format a few seconds old is safe: the database refuses a child with a parent's
# code (trigger bag_parent_code_not_for_children), and the scan services then forget and decide again.
PARENT_FORMATS_LOCAL_SECONDS = 5.0
_local_formats: tuple[float, tuple[qr.ParentFormat, ...]] | None = None


class ProductQuerySet(models.QuerySet):
    def parent_formats(self) -> tuple[qr.ParentFormat, ...]:
        """Every product's parent code format, kept in this process for a few seconds and in the cache
        for five minutes: every scan needs them, they change rarely.

        Inactive products included: a product taken out of use still owns its codes (SB12345 must
        never become a child bag); refusing new parents of an inactive product is the services' job.
        """
        global _local_formats
        now = time.monotonic()
        if _local_formats is not None and _local_formats[0] > now:
            return _local_formats[1]
        formats = cache.get(PARENT_FORMATS_CACHE_KEY)
        if formats is None:
            formats = tuple(product.parent_format for product in self.order_by("code"))
            cache.set(PARENT_FORMATS_CACHE_KEY, formats, 300)
        _local_formats = (now + PARENT_FORMATS_LOCAL_SECONDS, formats)
        return formats


def forget_parent_formats() -> None:
    """Called after a product changes, so the next scan sees the new formats (other processes within
    PARENT_FORMATS_LOCAL_SECONDS)."""
    global _local_formats
    _local_formats = None
    cache.delete(PARENT_FORMATS_CACHE_KEY)


# The totals per area as of now, with the highest bag and scan ids, in one statement (so in one snapshot):
# one pass over the bags table (about 0.3 s on 2 million bags), done by one process at a time and at most
# every DASHBOARD_TOTALS_SECONDS, never per request. With no bag at all it still writes the row of no area,
# so "counted" is never mistaken for "never counted".
REFRESH_TOTALS_SQL = f"""
INSERT INTO bags_bagtotals (dispatch_area_id, parents, children, linked, bag_mark, scan_mark, counted_at)
SELECT counted.dispatch_area_id, COALESCE(counted.parents, 0), COALESCE(counted.children, 0),
       COALESCE(counted.linked, 0), marks.bag_mark, marks.scan_mark, now()
FROM (SELECT (SELECT COALESCE(max(id), 0) FROM bags_bag) AS bag_mark,
             (SELECT COALESCE(max(id), 0) FROM scanning_scan) AS scan_mark) AS marks
LEFT JOIN (
    SELECT dispatch_area_id,
           count(*) FILTER (WHERE kind = {BagKind.PARENT.literal}) AS parents,
           count(*) FILTER (WHERE kind = {BagKind.CHILD.literal}) AS children,
           sum(child_count) FILTER (WHERE kind = {BagKind.PARENT.literal}) AS linked
    FROM bags_bag
    GROUP BY dispatch_area_id
) AS counted ON true
"""  # noqa: S608 (only enum literals are put in)

# What the bags and scans tables gained since the marks, per area: bags made since, and children put into or
# taken out of parents since, from the scan events (+1 for an action in ``puts_in``, -1 for one in
# ``takes_out``: the scan actions' own classification, scanning.choices.CHILD_LINK_CHANGE, which the caller
# passes, as bags sits below scanning; an undo counts only if the scan it reverts put a child in; in the
# event's area, the parent's: a move between areas shows at the next count). Both read only the rows after the
# marks, a primary key range of the newest rows.
TOTALS_SINCE_SQL = f"""
SELECT dispatch_area_id, count(*) FILTER (WHERE kind = {BagKind.PARENT.literal}),
       count(*) FILTER (WHERE kind = {BagKind.CHILD.literal}), 0
FROM bags_bag
WHERE id > %(bag_mark)s
GROUP BY dispatch_area_id
UNION ALL
SELECT scan.dispatch_area_id, 0, 0, sum(CASE WHEN scan.action = ANY(%(puts_in)s) THEN 1 ELSE -1 END)
FROM scanning_scan AS scan
LEFT JOIN scanning_scan AS undone ON undone.id = scan.reverts_id
WHERE scan.id > %(scan_mark)s AND (scan.action = ANY(%(puts_in)s) OR scan.action = ANY(%(takes_out)s))
  -- an undo takes away only what the scan it reverts put in: a move's undo, like the move, changes nothing
  AND (undone.id IS NULL OR undone.action = ANY(%(puts_in)s))
GROUP BY scan.dispatch_area_id
"""  # noqa: S608 (only enum literals are put in; every value is bound)

# One count at a time across every process: a transaction lock of our own key, tried or waited for.
TOTALS_LOCK = 7_262_001
TRY_TOTALS_LOCK_SQL = "SELECT pg_try_advisory_xact_lock(%(key)s)"
WAIT_FOR_TOTALS_LOCK_SQL = "SELECT true FROM (SELECT pg_advisory_xact_lock(%(key)s)) AS locked"


@dataclass(frozen=True)
class Totals:
    parents: int
    children: int
    linked: int
    counted_at: datetime | None

    @property
    def unlinked(self) -> int:
        return max(self.children - self.linked, 0)


class BagTotalsManager(models.Manager):
    def current(
        self,
        *,
        puts_in: list[str],
        takes_out: list[str],
        area_id: int | None = None,
        restricted: bool = False,
    ) -> tuple[Totals, datetime | None]:
        """The totals (of one area when ``restricted``) as last counted plus what came since; and when they
        were counted (None: never). ``puts_in`` and ``takes_out`` are the scan actions that put a child into a
        parent and take one out (scanning.choices.PUTS_CHILD_IN, TAKES_CHILD_OUT)."""
        db = self.db  # the replica on the dashboard (traitortrack/replica.py): both reads from one database
        rows = list(
            self.using(db).values_list(
                "dispatch_area_id", "parents", "children", "linked", "bag_mark", "scan_mark", "counted_at"
            )
        )
        if not rows:
            return Totals(0, 0, 0, None), None
        _, _, _, _, bag_mark, scan_mark, counted_at = rows[0]
        with connections[db].cursor() as cursor:
            cursor.execute(
                TOTALS_SINCE_SQL,
                {"bag_mark": bag_mark, "scan_mark": scan_mark, "puts_in": puts_in, "takes_out": takes_out},
            )
            since = cursor.fetchall()
        parents = children = linked = 0
        for area, area_parents, area_children, area_linked, *_ in [*rows, *since]:
            if restricted and area != area_id:
                continue
            parents, children, linked = parents + area_parents, children + area_children, linked + area_linked
        return Totals(parents, children, linked, counted_at), counted_at

    def refresh(self, *, older_than: datetime | None = None, wait: bool = False) -> bool:
        """Count again, unless (with ``older_than``) the totals were counted after it meanwhile, or another
        process is counting now (then, with ``wait``, wait for it and use its count); whether this call
        counted."""
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(WAIT_FOR_TOTALS_LOCK_SQL if wait else TRY_TOTALS_LOCK_SQL, {"key": TOTALS_LOCK})
            if not cursor.fetchone()[0]:
                return False
            if older_than is not None and self.filter(counted_at__gte=older_than).exists():
                return False
            self.all().delete()
            cursor.execute(REFRESH_TOTALS_SQL)
        return True
