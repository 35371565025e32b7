"""Bag reads for the search page (the bag page itself is one query: BagQuerySet.detail)."""

import re
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import OperationalError, transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from psycopg.errors import QueryCanceled

from accounts.models import DispatchArea, User
from bags import qr
from bags.error_codes import QRRefusal, SearchRefusal
from bags.managers import CODE_SEARCH_COLUMNS, parent_complete, visible_area
from bags.models import Bag, BagKind, Link, Product
from traitortrack.errors import Refused
from traitortrack.forms import local_day_start
from traitortrack.pagination import KeysetPage, keyset_page, page_of
from traitortrack.replica import read_connection

PREFIX_PATTERN = re.compile(rf"[A-Z0-9-]{{1,{qr.MAX_LENGTH}}}")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The longest a search's query may run (a search the indexes serve takes a few milliseconds).
SEARCH_TIMEOUT_MS = 500


class BagStatus:
    """What the search's status filter means for bags: a parent open or complete, a child in a parent or loose."""

    OPEN = "open"
    COMPLETE = "complete"
    LINKED = "linked"
    UNLINKED = "unlinked"
    CHOICES = [
        (OPEN, _("Parent, open")),
        (COMPLETE, _("Parent, complete")),
        (LINKED, _("Child, in a parent")),
        (UNLINKED, _("Child, in no parent")),
    ]
    KINDS = {OPEN: BagKind.PARENT, COMPLETE: BagKind.PARENT, LINKED: BagKind.CHILD, UNLINKED: BagKind.CHILD}


@dataclass(frozen=True)
class BagSearch:
    """A bag search: every part optional. ``prefix`` is the start of a code (normalised as a scan is)."""

    prefix: str = ""
    kind: str = ""
    product: Product | None = None
    area: DispatchArea | None = None
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None


def code_prefix(text: str) -> str:
    """The typed start of a code as stored codes start: trimmed and upper-case. Raises QRCodeError when it
    holds a character no code has or is longer than any code."""
    prefix = text.strip().upper()
    if prefix and not PREFIX_PATTERN.fullmatch(prefix):
        raise qr.QRCodeError(
            QRRefusal.BAD_PREFIX,
            gettext("Type the start of a bag code: letters, digits and '-', at most %(most)s of them.")
            % {"most": qr.MAX_LENGTH},
        )
    return prefix


def matching_bags(user: User, search: BagSearch) -> QuerySet:
    """The bags this user may see that match the search, unordered."""
    bags = Bag.objects.restrict(user)
    if search.prefix:
        # startswith on the stored upper-case code: LIKE 'SB12%', which the varchar_pattern_ops index on
        # qr_id serves (istartswith would wrap the column in UPPER() and read all 2 million rows).
        bags = bags.filter(qr_id__startswith=search.prefix)
    kind = search.kind or BagStatus.KINDS.get(search.status, "")
    if search.product is not None:
        kind = kind or BagKind.PARENT  # only parents have a product
        bags = bags.filter(product=search.product)
    if kind:
        bags = bags.filter(kind=kind)
    if search.area is not None:
        bags = bags.filter(dispatch_area=search.area)
    if search.status in (BagStatus.OPEN, BagStatus.COMPLETE):
        bags = bags.alias(complete=parent_complete()).filter(complete=search.status == BagStatus.COMPLETE)
    elif search.status in (BagStatus.LINKED, BagStatus.UNLINKED):
        in_parent = Exists(Link.objects.filter(child=OuterRef("pk")))
        bags = bags.filter(in_parent if search.status == BagStatus.LINKED else ~in_parent)
    if search.date_from:
        bags = bags.filter(created_at__gte=local_day_start(search.date_from))
    if search.date_to:
        bags = bags.filter(created_at__lt=local_day_start(search.date_to + timedelta(days=1)))
    return bags


# A result row's keys, whichever way it was read: the code search's SQL gives these columns.
ROW_EXPRESSIONS = {
    "product_name": F("product__name"),
    "complete": parent_complete(),
    "capacity": F("product__capacity"),
    "area_name": F("dispatch_area__name"),
    "parent_qr": F("parent_link__parent__qr_id"),
}


def search_rows(bags: QuerySet) -> QuerySet:
    """The bags as search result rows (dicts): code, kind, fill, completion, first scan, product, area, parent."""
    return bags.values(*(name for name in CODE_SEARCH_COLUMNS if name not in ROW_EXPRESSIONS), **ROW_EXPRESSIONS)


def could_be_parent(prefix: str) -> bool:
    """Whether some parent code starts with ``prefix``: a start of a product's prefix, or the prefix and digits."""
    for fmt in Product.objects.parent_formats():
        if fmt.prefix.startswith(prefix):
            return True
        rest = prefix.removeprefix(fmt.prefix)
        if prefix.startswith(fmt.prefix) and rest.isdigit() and len(rest) <= fmt.digits:
            return True
    return False


class SearchTooBroad(Refused):
    pass


# The caller's limit, read before the search's replaces it: the CTE's row is made before the select list is.
BOUND_SQL = """
WITH callers AS MATERIALIZED (SELECT current_setting('statement_timeout') AS value)
SELECT value, set_config('statement_timeout', %s, true) FROM callers
"""


@contextmanager
def bounded():
    """Run the block's queries with SEARCH_TIMEOUT_MS each at most: a search the indexes cannot narrow (a start
    most codes share with a filter few of them pass) is refused rather than left to read millions of rows.

    SET LOCAL lasts until the transaction ends. Inside a caller's transaction the block is only a savepoint, and
    releasing one ends nothing: the limit went on to cut the caller's later statements (the system page's, in a
    test that searched first). So a nested block puts the caller's limit back; a failed one needs nothing, as
    rolling back to the savepoint undoes the SET."""
    connection = read_connection()  # the search page reads the replica (traitortrack/replica.py)
    nested = connection.in_atomic_block
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(BOUND_SQL, [f"{SEARCH_TIMEOUT_MS}ms"])
            callers, _ = cursor.fetchone()
            yield
            if nested:
                cursor.execute("SELECT set_config('statement_timeout', %s, true)", [callers])
    except OperationalError as error:
        if not isinstance(error.__cause__, QueryCanceled):
            raise
        raise SearchTooBroad(
            SearchRefusal.SEARCH_TOO_BROAD, "That search reads too many bags: type more of the code, or fewer filters."
        ) from error


def search_bags(user: User, search: BagSearch, *, after: str | None = None, size: int = 25) -> KeysetPage:
    """The bags this user may see that match, a page at a time (keyset: no count); each row a dict with the bag's
    code, kind, product, area, fill, completion, the parent a child is in and when it was first scanned.

    With the start of a code: in code order, from the qr_id pattern index (Bag.objects.search_codes). Without:
    newest first; with a date range, by first scan (_dated_page). Raises SearchTooBroad when the database would
    have to read too much (bounded)."""
    kind = search.kind or BagStatus.KINDS.get(search.status, "") or (BagKind.PARENT if search.product else "")
    nothing = KeysetPage([], None)
    if search.kind and search.status and BagStatus.KINDS.get(search.status) != search.kind:
        return nothing  # a parent is never "in a parent", a child never "complete"
    if search.product is not None and search.kind == BagKind.CHILD:
        return nothing
    if search.prefix and kind == BagKind.PARENT and not could_be_parent(search.prefix):
        return nothing  # else the whole range of, say, "CB" would be read to find no parent in it
    restricted, area_id = visible_area(user)
    if search.area is not None:
        if restricted and search.area.pk != area_id:
            return nothing
        area_id = search.area.pk
    with bounded():
        if not search.prefix and (search.date_from or search.date_to):
            return _dated_page(user, search, kind, after=after, size=size)
        if search.prefix:
            rows = Bag.objects.search_codes(
                prefix=search.prefix,
                after=after,
                limit=size + 1,
                kind=kind or None,
                product_id=search.product.pk if search.product else None,
                area_id=area_id,
                complete={BagStatus.OPEN: False, BagStatus.COMPLETE: True}.get(search.status),
                linked={BagStatus.LINKED: True, BagStatus.UNLINKED: False}.get(search.status),
                created_from=local_day_start(search.date_from) if search.date_from else None,
                created_before=local_day_start(search.date_to + timedelta(days=1)) if search.date_to else None,
            )
            return page_of(rows, size, lambda row: row["qr_id"])
        return keyset_page(search_rows(matching_bags(user, search)), after=after, size=size)


def dated_bags(user: User, search: BagSearch, *, after: str | None = None) -> QuerySet:
    """The search's bags of one kind (``search.kind``) as result rows, newest first by first scan and id, after
    the ``after`` of dated_key: a range of the (kind, created_at) index, or (area, kind, created_at) for one
    area, read in its order. By id instead, a range far back would be reached only through every newer bag."""
    bags = matching_bags(user, search)
    if after:
        at, _, pk = after.partition(".")
        if at.isdigit() and pk.isdigit():
            moment = EPOCH + timedelta(microseconds=int(at))
            bags = bags.filter(created_at__lte=moment).exclude(created_at=moment, pk__gte=int(pk))
    return search_rows(bags).order_by("-created_at", "-pk")


def dated_key(row: dict) -> str:
    """A dated page's ``after``: the last row's first scan (microseconds since 1970) and id."""
    since = row["created_at"] - EPOCH
    return f"{since // timedelta(microseconds=1)}.{row['pk']}"


def _dated_page(user: User, search: BagSearch, kind: str, *, after: str | None, size: int) -> KeysetPage:
    """A page of a search with a date range and no code start: each kind newest first from its own index
    range (dated_bags), the two merged when the search names no kind."""
    rows: list[dict] = []
    for one_kind in [kind] if kind else [BagKind.PARENT, BagKind.CHILD]:
        rows += dated_bags(user, replace(search, kind=one_kind), after=after)[: size + 1]
    rows.sort(key=lambda row: (row["created_at"], row["pk"]), reverse=True)
    return page_of(rows[: size + 1], size, dated_key)


def exact_bag(user: User, code: str) -> str | None:
    """The code of the bag this user may see whose code is exactly ``code``, if any (the search page's shortcut)."""
    try:
        qr_id = qr.normalise(code)
    except qr.QRCodeError:
        return None
    return Bag.objects.restrict(user).filter(qr_id=qr_id).values_list("qr_id", flat=True).first()


def parent_formats_for_pages() -> list[dict[str, Any]]:
    """Each product's parent codes as the pages' scripts read them (json_script), from the Product rows: the
    anchored regular expression (ParentFormat.regex), an example, the product's name and capacity. The
    scripts keep no copy of the rule, so a product added in the admin is known to the next page loaded."""
    capacities = dict(Product.objects.values_list("code", "capacity"))
    return [
        {
            "product": fmt.product_name,
            "pattern": fmt.regex,
            "example": fmt.example,
            "capacity": capacities.get(fmt.product_code),
        }
        for fmt in Product.objects.parent_formats()
    ]
