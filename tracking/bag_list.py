"""The bag management list (/bags/): the bags a user may see (a dispatcher their own area's), filtered, sorted and
a page at a time, and the same filters as a queryset for the export.

Every sort is read in the order of an index and stops when a page is full (keyset pages, no COUNT), so a page
costs about the same on 2 million bags as on 2,000:
- by code: the qr_id pattern index (``ORDER BY qr_id USING ~<~``, as the search reads it), parents alone from
  the partial index of parents' codes (tracking/migrations/0001_*: else the 1.9 million children, whose codes
  sort first, would be read to reach the first parent);
- newest or oldest: the (kind, created_at) index, or (area, kind, created_at) for one area, one range a kind,
  the two merged when no kind is picked;
- by child count (parents only): no index. Every scan changes a parent's count, so an index on it would be
  written by every scan; this order sorts the parents the filters leave instead: 60,000 at most on the bench.

Filters are tests on the rows read (a child's link probed per bag; a parent's bill entries a semi-join of the
small bills_billbag), "scanned by" the ids of a user's few bags or a probe of their many events (_scanned_by),
and a code start sorted by date or a date range sorted by code reads its own range first (NARROWED_SQL). What the
indexes cannot narrow (a filter few of the bags read pass) runs into the search's time limit and is refused with
a sentence (bags.selectors.bounded), never left to read millions of rows. bench/bag_list.py times every sort with
every filter on 2 million bags (README, "Benchmarks").
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django import forms
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy as _
from psycopg import sql

from accounts.models import DispatchArea, User
from bags.managers import visible_area
from bags.models import Bag, BagKind, Link, Product
from bags.qr import QRCodeError
from bags.selectors import bounded, code_prefix
from bills.models import BillBag
from scanning.models import Scan
from traitortrack.forms import DayField, local_day_start
from traitortrack.pagination import KeysetPage, page_of

PAGE_SIZE = 50
YES, NO = "yes", "no"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

CODE, CODE_DESC, NEWEST, OLDEST, MOST_CHILDREN, FEWEST_CHILDREN = (
    "code",
    "-code",
    "newest",
    "oldest",
    "children",
    "-children",
)
SORT_LABELS = {
    NEWEST: _("Newest first"),
    OLDEST: _("Oldest first"),
    CODE: _("Code A-Z"),
    CODE_DESC: _("Code Z-A"),
    MOST_CHILDREN: _("Most children (parents)"),
    FEWEST_CHILDREN: _("Fewest children (parents)"),
}
# Each sort's ORDER BY and its keyset's "after" test (row_key gives the values).
_ORDER = {
    CODE: (sql.SQL("bag.qr_id USING ~<~"), sql.SQL("bag.qr_id ~>~ %(after_code)s")),
    CODE_DESC: (sql.SQL("bag.qr_id USING ~>~"), sql.SQL("bag.qr_id ~<~ %(after_code)s")),
    # The indexes hold (kind, created_at): the id only breaks ties, within one instant.
    NEWEST: (
        sql.SQL("bag.created_at DESC, bag.id DESC"),
        sql.SQL("bag.created_at <= %(after_at)s AND (bag.created_at < %(after_at)s OR bag.id < %(after_id)s)"),
    ),
    OLDEST: (
        sql.SQL("bag.created_at, bag.id"),
        sql.SQL("bag.created_at >= %(after_at)s AND (bag.created_at > %(after_at)s OR bag.id > %(after_id)s)"),
    ),
    MOST_CHILDREN: (
        sql.SQL("bag.child_count DESC, bag.id DESC"),
        sql.SQL("(bag.child_count, bag.id) < (%(after_count)s, %(after_id)s)"),
    ),
    FEWEST_CHILDREN: (
        sql.SQL("bag.child_count, bag.id"),
        sql.SQL("(bag.child_count, bag.id) > (%(after_count)s, %(after_id)s)"),
    ),
}

# One page of the list. The filters on a bag's own columns and its link are off when their value is NULL or false:
# the values are bound client-side, so PostgreSQL sees literals and drops the test. A child's link is probed per
# bag read (``NOT %(x)s OR EXISTS``: kept out of the join tree on purpose, as the search does, or a join
# estimate would hash the whole links table). The rest are composed in only when asked for (``{filters}``): a
# parent's bill entries as a plain semi- or anti-join (bills_billbag holds at most one row a parent and a few
# returned ones, so the planner may read it first), "scanned by" as SCANNED_BY_IDS or SCANNED_BY_PROBE. The
# parent's code and the current bill are subqueries of the output rows only. ORDERED_SQL or NARROWED_SQL put
# the parts together.
BAG_COLUMNS_SQL = """
SELECT bag.id, bag.qr_id, bag.kind, bag.child_count,
       bags_parent_complete(bag.completed_at, bag.child_count, product.capacity), bag.created_at,
       product.name, product.capacity, area.name,
       (SELECT parent.qr_id FROM bags_link AS link JOIN bags_bag AS parent ON parent.id = link.parent_id
        WHERE link.child_id = bag.id),
       (SELECT entry.bill_id FROM bills_billbag AS entry
        WHERE entry.parent_bag_id = bag.id AND entry.returned_at IS NULL),
       (SELECT bill.bill_number FROM bills_billbag AS entry JOIN bills_bill AS bill ON bill.id = entry.bill_id
        WHERE entry.parent_bag_id = bag.id AND entry.returned_at IS NULL)
"""
JOINS_SQL = """
LEFT JOIN bags_product AS product ON product.id = bag.product_id
LEFT JOIN accounts_dispatcharea AS area ON area.id = bag.dispatch_area_id
"""
BAG_FILTERS_SQL = """
WHERE (%(pattern)s::text IS NULL OR bag.qr_id LIKE %(pattern)s)
  AND (%(kind)s::text IS NULL OR bag.kind = %(kind)s)
  AND (%(product_id)s::bigint IS NULL OR bag.product_id = %(product_id)s)
  AND (%(area_id)s::bigint IS NULL OR bag.dispatch_area_id = %(area_id)s)
  AND (%(holds)s::boolean IS NULL OR (bag.child_count > 0) = %(holds)s)
  AND (NOT %(in_parent)s OR EXISTS (SELECT 1 FROM bags_link AS link WHERE link.child_id = bag.id))
  AND (NOT %(in_no_parent)s OR NOT EXISTS (SELECT 1 FROM bags_link AS link WHERE link.child_id = bag.id))
  AND (%(created_from)s::timestamptz IS NULL OR bag.created_at >= %(created_from)s)
  AND (%(created_before)s::timestamptz IS NULL OR bag.created_at < %(created_before)s)
  {filters}
  AND ({after})
"""
# The rows read in the sort's order, until a page is full: what every sort does first.
ORDERED_SQL = "{columns} FROM bags_bag AS bag {joins} {where}\nORDER BY {order}\nLIMIT %(limit)s"
# A code start sorted by date, or a date range sorted by code: the planner reads the sort's index and tests
# the range's rows as it goes, assuming codes and dates unrelated; but codes are printed and scanned in runs,
# so a day's bags sit in a few runs of codes, and the bench read 950,000 codes to find one day's 50 (refused).
# Read the range first (its own index, up to NARROW_ROWS: the LIMIT keeps the ORDER BY out of its plan),
# then sort it; a range holding more, counted by the window, is read the ordered way after all. The output
# columns' subqueries are the outer query's, so they run for the page's rows only.
NARROW_ROWS = 10_000
NARROWED_SQL = """
{columns}, bag.narrowed
FROM (SELECT bag.*, count(*) OVER () AS narrowed
      FROM (SELECT bag.* FROM bags_bag AS bag {where} LIMIT %(narrow)s) AS bag) AS bag
{joins}
ORDER BY {order}
LIMIT %(limit)s
"""
ON_BILL = (
    "AND EXISTS (SELECT 1 FROM bills_billbag AS entry WHERE entry.parent_bag_id = bag.id AND entry.returned_at IS NULL)"
)
RETURNED = (
    "AND EXISTS (SELECT 1 FROM bills_billbag AS entry"
    " WHERE entry.parent_bag_id = bag.id AND entry.returned_at IS NOT NULL)"
)
BILL_FILTERS = {
    ("on_bill", YES): ON_BILL,
    ("on_bill", NO): ON_BILL.replace("AND EXISTS", "AND NOT EXISTS"),
    ("returned", YES): RETURNED,
    ("returned", NO): RETURNED.replace("AND EXISTS", "AND NOT EXISTS"),
}
# A scan event names a bag as the bag scanned (a child, or a parent opened or completed) or as the parent a
# child went into (or came out of). A user with few events: the bags they name, fetched first (SCANNED_IDS_SQL)
# and read by id. With many, a probe of their events per bag read, in the sort's order: a semi-join of the two
# lists was planned from a guess of 200 distinct bags, and hashed 1.8 million events to find a page.
SCANNED_BY_FEW = 5000
COUNT_SCANS_SQL = (
    "SELECT count(*) FROM (SELECT 1 FROM scanning_scan WHERE user_id = %(user_id)s LIMIT %(few)s) AS theirs"
)
SCANNED_IDS_SQL = """
SELECT DISTINCT named.id
FROM scanning_scan AS scan, LATERAL (VALUES (scan.bag_id), (scan.parent_id)) AS named (id)
WHERE scan.user_id = %(user_id)s AND named.id IS NOT NULL
"""
SCANNED_BY_IDS = "AND bag.id = ANY(%(scanned_ids)s)"
SCANNED_BY_PROBE = """
  AND (EXISTS (SELECT 1 FROM scanning_scan AS scan WHERE scan.bag_id = bag.id AND scan.user_id = %(scanned_by)s)
       OR EXISTS (SELECT 1 FROM scanning_scan AS scan
                  WHERE scan.parent_id = bag.id AND scan.user_id = %(scanned_by)s))
"""
COLUMNS = (
    "pk",
    "qr_id",
    "kind",
    "child_count",
    "complete",
    "created_at",
    "product_name",
    "capacity",
    "area_name",
    "parent_qr",
    "bill_id",
    "bill_number",
)


@dataclass(frozen=True)
class BagFilter:
    """What the list shows: every part optional. ``prefix`` is the start of a code, as stored codes start."""

    prefix: str = ""
    kind: str = ""
    product: Product | None = None
    area: DispatchArea | None = None
    holds: str = ""  # a parent holding children (YES) or empty (NO); "" either
    in_parent: str = ""  # YES, NO or "" (either)
    on_bill: str = ""
    returned: str = ""
    scanned_by: User | None = None
    date_from: date | None = None
    date_to: date | None = None

    @property
    def kind_needed(self) -> str | None:
        """The kind the filters leave (a product, a bill, a return are a parent's; a parent is in no parent),
        "" for both, None when they contradict each other (a child with a product)."""
        kinds = {self.kind} if self.kind else {BagKind.PARENT, BagKind.CHILD}
        if self.product is not None or self.holds or self.on_bill == YES or self.returned == YES:
            kinds &= {BagKind.PARENT}
        if self.in_parent == YES:
            kinds &= {BagKind.CHILD}
        if not kinds:
            return None
        return kinds.pop() if len(kinds) == 1 else ""


def sort_kind(sort: str, kind: str | None) -> str | None:
    """The kind a sort leaves: child counts are parents'."""
    if sort in (MOST_CHILDREN, FEWEST_CHILDREN):
        return None if kind is None or kind == BagKind.CHILD else BagKind.PARENT
    return kind


def _params(user: User, filters: BagFilter, kind: str, *, limit: int) -> dict[str, Any]:
    _, area_id = visible_area(user)
    if filters.area is not None:
        area_id = filters.area.pk
    return {
        "pattern": f"{filters.prefix}%" if filters.prefix else None,
        "kind": kind or None,
        "product_id": filters.product.pk if filters.product else None,
        "area_id": area_id,
        "holds": {YES: True, NO: False}.get(filters.holds),
        "in_parent": filters.in_parent == YES,
        # A parent is in no parent: the test would only cost a probe per parent.
        "in_no_parent": filters.in_parent == NO and kind != BagKind.PARENT,
        "scanned_by": filters.scanned_by.pk if filters.scanned_by else None,
        "created_from": local_day_start(filters.date_from) if filters.date_from else None,
        "created_before": local_day_start(filters.date_to + timedelta(days=1)) if filters.date_to else None,
        "limit": limit,
    }


def _after(sort: str, after: str | None) -> dict[str, Any] | None:
    """The keyset's values from a page link's ``after`` (see row_key); None for the first page, or for an
    ``after`` that is not this sort's (a hand-edited link starts again)."""
    if not after:
        return None
    if sort in (CODE, CODE_DESC):
        return {"after_code": after}
    first, _, pk = after.partition(".")
    if not (first.isdigit() and pk.isdigit()):
        return None
    if sort in (NEWEST, OLDEST):
        return {"after_at": EPOCH + timedelta(microseconds=int(first)), "after_id": int(pk)}
    return {"after_count": int(first), "after_id": int(pk)}


def row_key(sort: str, row: dict[str, Any]) -> str:
    """A row's place in the sort, as the next page's ``after``."""
    if sort in (CODE, CODE_DESC):
        return row["qr_id"]
    if sort in (NEWEST, OLDEST):
        return f"{(row['created_at'] - EPOCH) // timedelta(microseconds=1)}.{row['pk']}"
    return f"{row['child_count']}.{row['pk']}"


def statement(
    sort: str, filters: BagFilter, kind: str, *, scanned: str = "", after: bool = False, narrowed: bool = False
) -> sql.Composed:
    """The list's statement for this sort with the optional filters composed in; ``scanned`` is
    SCANNED_BY_IDS, SCANNED_BY_PROBE or "" (constants only: every value is bound). ``narrowed``: NARROWED_SQL."""
    order, after_test = _ORDER[sort]
    clauses = [
        BILL_FILTERS[name, value]
        for name, value in (("on_bill", filters.on_bill), ("returned", filters.returned))
        # A child is on no bill and was never returned: its test would be all cost.
        if value and not (value == NO and kind == BagKind.CHILD)
    ]
    where = sql.SQL(BAG_FILTERS_SQL).format(
        filters=sql.SQL("\n  ".join([*clauses, scanned])), after=after_test if after else sql.SQL("true")
    )
    return sql.SQL(NARROWED_SQL if narrowed else ORDERED_SQL).format(
        columns=sql.SQL(BAG_COLUMNS_SQL), joins=sql.SQL(JOINS_SQL), where=where, order=order
    )


def _scanned_by(filters: BagFilter) -> dict[str, Any]:
    """How to test "scanned by": the bags a user with few scan events named (their ids), else a probe a bag."""
    if filters.scanned_by is None:
        return {"scanned": ""}
    with connection.cursor() as cursor:
        params = {"user_id": filters.scanned_by.pk, "few": SCANNED_BY_FEW}
        cursor.execute(COUNT_SCANS_SQL, params)
        if cursor.fetchone()[0] >= SCANNED_BY_FEW:
            return {"scanned": SCANNED_BY_PROBE}
        cursor.execute(SCANNED_IDS_SQL, params)
        return {"scanned": SCANNED_BY_IDS, "scanned_ids": [bag_id for (bag_id,) in cursor.fetchall()]}


def _read(
    user: User,
    filters: BagFilter,
    kind: str,
    sort: str,
    after: dict | None,
    limit: int,
    scanned: dict[str, Any],
    *,
    narrowed: bool = False,
) -> list[dict] | None:
    """The rows of one statement; None when ``narrowed`` and the range holds more than NARROW_ROWS."""
    params = {**_params(user, filters, kind, limit=limit), **(after or {}), **scanned, "narrow": NARROW_ROWS + 1}
    query = statement(sort, filters, kind, scanned=scanned["scanned"], after=after is not None, narrowed=narrowed)
    with connection.cursor() as cursor:
        cursor.execute(query.as_string(connection.connection), params)
        rows = cursor.fetchall()
    if narrowed:
        if rows and rows[0][-1] > NARROW_ROWS:
            return None
        rows = [row[:-1] for row in rows]
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows]


def _narrows(filters: BagFilter, sort: str) -> bool:
    """Whether the filters hold a range of an index the sort does not read (see NARROWED_SQL)."""
    dated = filters.date_from is not None or filters.date_to is not None
    return bool(filters.prefix and sort not in (CODE, CODE_DESC)) or (dated and sort not in (NEWEST, OLDEST))


def _sort_key(sort: str):
    if sort in (NEWEST, OLDEST):
        return lambda row: (row["created_at"], row["pk"])
    if sort in (CODE, CODE_DESC):
        return lambda row: row["qr_id"].encode()  # the pattern index's order: bytes
    return lambda row: (row["child_count"], row["pk"])


def list_bags(
    user: User, filters: BagFilter, *, sort: str = NEWEST, after: str | None = None, size: int | None = None
) -> KeysetPage:
    """A page of the bags this user may see that pass the filters, in ``sort`` order after ``after`` (a row_key).
    Raises SearchTooBroad when the indexes cannot narrow it enough (bounded)."""
    size = size or PAGE_SIZE
    kind = sort_kind(sort, filters.kind_needed)
    restricted, area_id = visible_area(user)
    if kind is None or (restricted and filters.area is not None and filters.area.pk != area_id):
        return KeysetPage([], None)
    keyset = _after(sort, after)
    # The dated indexes are one range a kind, so are the parents' codes: with no kind, both are read and merged.
    kinds = [kind] if kind or sort in (CODE, CODE_DESC) else [BagKind.PARENT, BagKind.CHILD]
    rows: list[dict] | None = None
    with bounded():
        scanned = _scanned_by(filters)
        if _narrows(filters, sort):
            # A code range is one of the pattern index; a date range one of (kind, created_at) a kind.
            narrow_kinds = [kind] if kind or filters.prefix else [BagKind.PARENT, BagKind.CHILD]
            rows = []
            for one_kind in narrow_kinds:
                read = _read(user, filters, one_kind, sort, keyset, size + 1, scanned, narrowed=True)
                if read is None:
                    rows = None
                    break
                rows += read
            if rows is not None:
                kinds = narrow_kinds
        if rows is None:
            rows = []
            for one_kind in kinds:
                rows += _read(user, filters, one_kind, sort, keyset, size + 1, scanned)
    if len(kinds) > 1:
        rows.sort(key=_sort_key(sort), reverse=sort in (NEWEST, CODE_DESC, MOST_CHILDREN))
    return page_of(rows[: size + 1], size, lambda row: row_key(sort, row))


def matching_bags(user: User, filters: BagFilter) -> QuerySet:
    """The same bags as a queryset, unordered: the export's rows, and the plain answer the tests hold the
    list's statement to."""
    kind = filters.kind_needed
    bags = Bag.objects.restrict(user)
    if kind is None:
        return bags.none()
    if kind:
        bags = bags.filter(kind=kind)
    if filters.prefix:
        bags = bags.filter(qr_id__startswith=filters.prefix)
    if filters.product is not None:
        bags = bags.filter(product=filters.product)
    if filters.area is not None:
        bags = bags.filter(dispatch_area=filters.area)
    if filters.holds:
        bags = bags.filter(child_count__gt=0) if filters.holds == YES else bags.filter(child_count=0)
    in_parent = Exists(Link.objects.filter(child=OuterRef("pk")))
    on_bill = Exists(BillBag.objects.current().filter(parent_bag=OuterRef("pk")))
    returned = Exists(BillBag.objects.filter(parent_bag=OuterRef("pk"), returned_at__isnull=False))
    for value, test in ((filters.in_parent, in_parent), (filters.on_bill, on_bill), (filters.returned, returned)):
        if value:
            bags = bags.filter(test if value == YES else ~test)
    if filters.scanned_by is not None:
        scans = Scan.objects.filter(user=filters.scanned_by)
        bags = bags.filter(Q(pk__in=scans.values("bag_id")) | Q(pk__in=scans.values("parent_id")))
    if filters.date_from:
        bags = bags.filter(created_at__gte=local_day_start(filters.date_from))
    if filters.date_to:
        bags = bags.filter(created_at__lt=local_day_start(filters.date_to + timedelta(days=1)))
    return bags


def either(yes: str, no: str) -> list[tuple[str, str]]:
    return [("", _("Either")), (YES, yes), (NO, no)]


class BagListForm(forms.Form):
    """The list's filters and sort. A value that does not parse is left out, never an error page (its field
    says why)."""

    q = forms.CharField(required=False, max_length=20, label=_("Code starts with"))
    kind = forms.ChoiceField(required=False, choices=[("", _("Any kind")), *BagKind.choices], label=_("Kind"))
    product = forms.ModelChoiceField(
        required=False,
        queryset=Product.objects.order_by("name"),
        to_field_name="code",
        empty_label=_("Any product"),
        label=_("Product"),
    )
    area = forms.ModelChoiceField(
        required=False,
        queryset=DispatchArea.objects.order_by("name"),
        to_field_name="code",
        empty_label=_("Any area"),
        label=_("Area"),
    )
    holds = forms.ChoiceField(required=False, choices=either(_("Holds children"), _("Empty")), label=_("Parent"))
    in_parent = forms.ChoiceField(required=False, choices=either(_("In a parent"), _("In no parent")), label=_("Child"))
    on_bill = forms.ChoiceField(required=False, choices=either(_("On a bill"), _("On no bill")), label=_("Bill"))
    returned = forms.ChoiceField(
        required=False, choices=either(_("Returned"), _("Never returned")), label=_("Returned")
    )
    scanned_by = forms.ModelChoiceField(
        required=False,
        queryset=User.objects.order_by("username"),
        to_field_name="username",
        empty_label=_("Anyone"),
        label=_("Scanned by"),
    )
    date_from = DayField(required=False, label=_("First scan from"))
    date_to = DayField(required=False, label=_("To"))
    sort = forms.ChoiceField(required=False, choices=list(SORT_LABELS.items()), label=_("Sort"))
    # The page link's: the last row shown, never typed.
    after = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)

    FILTERS = (
        "q",
        "kind",
        "product",
        "area",
        "holds",
        "in_parent",
        "on_bill",
        "returned",
        "scanned_by",
        "date_from",
        "date_to",
        "sort",
    )

    def __init__(self, data: Any, *, user: User) -> None:
        super().__init__(data)
        self.user = user
        users = User.objects.order_by("username")
        if user.is_dispatcher:  # a dispatcher sees one area, and its people
            del self.fields["area"]
            users = users.filter(dispatch_area_id=user.dispatch_area_id)
        self.fields["scanned_by"].queryset = users
        # The options read with one plain query each (a model field's own reads them through a server-side
        # cursor every time the page is drawn), as the search's form does.
        options = {"product": ("code", "name"), "area": ("code", "name"), "scanned_by": ("username", "username")}
        for name, columns in options.items():
            if name in self.fields:
                choice = self.fields[name]
                choice.choices = [("", choice.empty_label), *choice.queryset.values_list(*columns)]
        for name in self.FILTERS:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["class"] = "form-select" if isinstance(widget, forms.Select) else "form-control"

    def clean_q(self) -> str:
        try:
            return code_prefix(self.cleaned_data["q"] or "")
        except QRCodeError as refusal:
            raise forms.ValidationError(refusal.message) from refusal

    def filter_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.FILTERS if name in self.fields]

    def values(self) -> dict[str, Any]:
        """The filters that parsed (empty ones left out)."""
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        return {name: cleaned[name] for name in (*self.FILTERS, "after") if cleaned.get(name) not in (None, "")}

    def bag_filter(self) -> BagFilter:
        values = self.values()
        values.pop("sort", None)
        values.pop("after", None)
        prefix = values.pop("q", "")
        return BagFilter(prefix=prefix, **values)

    def sort_and_after(self) -> tuple[str, str | None]:
        """The sort picked (newest first by default) and the page link's ``after``."""
        values = self.values()
        return values.get("sort") or NEWEST, values.get("after")
