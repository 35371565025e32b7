"""Bulk import of bags and links from a .csv or .xlsx file: the one validation and write path, used by
``manage.py import_bags`` and by the admin's import (imports/admin.py).

Two layouts (the header, row 1, says which; column names ignore case):

- **links**: ``parent, child`` and optionally ``product, area``: the child goes into the parent; either is
  created if new (the parent in the row's area). The child, new or loose, takes its parent's area, as a
  scan does.
- **bags**: ``code`` and optionally ``product, area``: a parent or a child bag (its code says which), created
  if new.

The rules are the scan loop's. Cheap per-row checks run in Python while the file streams in (the QR rules
of bags/qr.py, with the parent formats read from Product; a named product must be the one the code's format
belongs to; areas by code or name). Good rows are staged with COPY into a temporary table, and the rules
that look across rows or at the database are set-based SQL over it: a code twice in the file, a code of the
other kind already, another area, a child already in another parent, a new parent of a product out of use,
a parent's capacity (or one marked complete). Then everything is written set-based by the tables' owners
(``Bag.objects.insert_from`` for the new bags, ``Scan.objects.link_pairs`` for the links and their scan
events), from SELECTs over the staged rows, in one transaction with the checks: a database error on any
row leaves nothing behind.

Rows already there (the same link, the same bag) are reported and left alone, so running a file twice
changes nothing the second time. Each link made records a Scan event with the action ``import``: the scan
events are the bags' history (where a bag was, since when, put there by whom), and a separate action keeps
imports out of the dispatchers' throughput and out of reach of a dispatcher's undo (which takes back ``link``).
The import itself is audited (``bag.import``): bulk writes send no signals and call no save().
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import psycopg
import psycopg.errors
from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import DispatchArea, User
from audit.choices import AuditAction
from audit.services import record
from bags import qr
from bags.choices import BagKind
from bags.error_codes import QRRefusal
from bags.models import Bag, Product
from imports.copying import Progress, chunked, copy_rows
from imports.error_codes import ImportRefusal
from imports.files import (
    ALREADY_PRESENT,
    MAX_LISTED,
    FileRefused,
    ImportReport,
    RowIssue,
    Table,
    cell_issue,
    check_columns,
    no_rows,
    open_table,
    read_rows,
)
from scanning.models import Scan, ScanAction

LINKS = "links"
BAGS = "bags"
LINK_COLUMNS = ("parent", "child")
BAG_COLUMNS = ("code",)
OPTIONAL_COLUMNS = ("product", "area")
# Refused from a number, TRUE/FALSE or date cell of a workbook: a code is text.
CODE_COLUMNS = ("parent", "child", "code")
STAGE_COLUMNS = ("row_no", "parent_qr", "product_id", "child_qr", "area_id")

# The staged rows: a links row has both codes, a bags row one of them (its kind). Dropped at commit or rollback.
CREATE_STAGE_SQL = """
CREATE TEMPORARY TABLE import_bag_row (
    row_no integer NOT NULL,
    parent_qr varchar(20),
    product_id bigint,
    child_qr varchar(20),
    area_id bigint
) ON COMMIT DROP;
CREATE TEMPORARY TABLE import_bag_issue (
    row_no integer PRIMARY KEY,
    code text NOT NULL,
    detail text,
    number bigint
) ON COMMIT DROP;
"""

DROP_STAGE_SQL = "DROP TABLE import_bag_row, import_bag_issue"

# Each check adds at most one issue per row (the first found wins: ON CONFLICT DO NOTHING), in this order.
DUPLICATE_ROWS_SQL = """
INSERT INTO import_bag_issue (row_no, code, number)
SELECT row_no, 'duplicate_in_file', first_row
FROM (
    SELECT row_no, min(row_no) OVER (PARTITION BY code) AS first_row
    FROM (SELECT row_no, CASE WHEN %(links)s THEN child_qr ELSE COALESCE(parent_qr, child_qr) END AS code
          FROM import_bag_row) AS coded
) AS numbered
WHERE row_no > first_row
ON CONFLICT (row_no) DO NOTHING
"""

# A new parent gets one area: rows naming it with two areas cannot both be right (a row naming none agrees).
CONFLICTING_AREAS_SQL = """
INSERT INTO import_bag_issue (row_no, code, number)
SELECT row_no, 'conflicting_area', first_row
FROM (
    SELECT row_no, area_id,
           first_value(area_id) OVER parent_rows AS first_area,
           first_value(row_no) OVER parent_rows AS first_row
    FROM import_bag_row
    WHERE parent_qr IS NOT NULL AND area_id IS NOT NULL
    WINDOW parent_rows AS (PARTITION BY parent_qr ORDER BY row_no)
) AS by_parent
WHERE area_id IS DISTINCT FROM first_area
ON CONFLICT (row_no) DO NOTHING
"""

# The parents a links file names, locked in id order (the scan loop's order) so no scan changes their counts
# between the capacity check and the write; a scan into one of them waits for the import's commit. A bag
# list changes no parent and locks none.
LOCK_PARENTS_SQL = f"""
SELECT b.id FROM bags_bag b
WHERE b.kind = {BagKind.PARENT.literal}
  AND b.qr_id IN (SELECT parent_qr FROM import_bag_row WHERE parent_qr IS NOT NULL)
ORDER BY b.id
FOR UPDATE
"""  # noqa: S608 (only an enum literal is put in)

# Against the bags already there. ``number`` is the existing bag's area for other_area; only an area the row
# names is compared (the default area, --area, is for new bags).
EXISTING_BAGS_SQL = f"""
INSERT INTO import_bag_issue (row_no, code, detail, number)
SELECT row_no, code, detail, number
FROM (
    SELECT r.row_no,
           CASE
               WHEN p.kind = {BagKind.CHILD.literal} THEN 'parent_is_child'
               WHEN c.kind = {BagKind.PARENT.literal} THEN 'child_is_parent'
               WHEN r.area_id IS NOT NULL AND p.id IS NOT NULL AND p.dispatch_area_id IS DISTINCT FROM r.area_id
                   THEN 'other_area'
               WHEN NOT %(links)s AND r.area_id IS NOT NULL AND c.id IS NOT NULL
                    AND c.dispatch_area_id IS DISTINCT FROM r.area_id THEN 'other_area'
               WHEN NOT %(links)s AND (p.id IS NOT NULL OR c.id IS NOT NULL) THEN 'already_present'
               WHEN lp.qr_id = r.parent_qr THEN 'already_present'
               WHEN lp.id IS NOT NULL THEN 'child_in_other_parent'
               WHEN r.parent_qr IS NOT NULL AND p.id IS NULL AND NOT pr.is_active THEN 'product_inactive'
           END AS code,
           CASE WHEN lp.id IS NOT NULL THEN lp.qr_id ELSE pr.name END AS detail,
           CASE WHEN p.id IS NOT NULL THEN p.dispatch_area_id ELSE c.dispatch_area_id END AS number
    FROM import_bag_row r
    LEFT JOIN bags_bag p ON p.qr_id = r.parent_qr
    LEFT JOIN bags_bag c ON c.qr_id = r.child_qr
    LEFT JOIN bags_link l ON l.child_id = c.id
    LEFT JOIN bags_bag lp ON lp.id = l.parent_id
    LEFT JOIN bags_product pr ON pr.id = r.product_id
) AS checked
WHERE code IS NOT NULL
ON CONFLICT (row_no) DO NOTHING
"""  # noqa: S608 (only enum literals are put in; every value is bound)

# Rows still good, numbered per parent in file order: row n is refused when the parent holding the n - 1 before
# it is complete (bags_parent_complete: full, or marked), so the first ones fit, as they would have if scanned
# in that order. ``number`` is the capacity, ``detail`` the count held.
CAPACITY_SQL = """
INSERT INTO import_bag_issue (row_no, code, detail, number)
SELECT row_no, CASE WHEN bags_parent_full(held + n - 1, capacity) THEN 'parent_full' ELSE 'parent_complete' END,
       held::text, capacity
FROM (
    SELECT r.row_no, pr.capacity, COALESCE(b.child_count, 0) AS held, b.completed_at,
           row_number() OVER (PARTITION BY r.parent_qr ORDER BY r.row_no)::integer AS n
    FROM import_bag_row r
    LEFT JOIN bags_bag b ON b.qr_id = r.parent_qr
    JOIN bags_product pr ON pr.id = COALESCE(b.product_id, r.product_id)
    WHERE r.parent_qr IS NOT NULL AND r.child_qr IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM import_bag_issue i WHERE i.row_no = r.row_no)
) AS numbered
WHERE bags_parent_complete(completed_at, held + n - 1, capacity)
ON CONFLICT (row_no) DO NOTHING
"""

ISSUE_COUNTS_SQL = "SELECT code = 'already_present', count(*) FROM import_bag_issue GROUP BY 1"
LISTED_ISSUES_SQL = """
SELECT i.row_no, i.code, i.detail, i.number, r.parent_qr, r.child_qr, r.area_id
FROM import_bag_issue i JOIN import_bag_row r ON r.row_no = i.row_no
ORDER BY i.row_no
LIMIT %(limit)s
"""

GOOD_ROWS = "NOT EXISTS (SELECT 1 FROM import_bag_issue i WHERE i.row_no = r.row_no)"

# The new parents (Bag.objects.insert_from writes them): a new parent's area is the one its rows name (the
# first row naming one), else the default.
NEW_PARENTS_SQL = f"""
SELECT qr_id, {BagKind.PARENT.literal} AS kind, product_id,
       COALESCE(area_id, %(default_area_id)s) AS dispatch_area_id, row_no
FROM (
    SELECT DISTINCT ON (r.parent_qr) r.parent_qr AS qr_id, r.product_id, r.area_id, r.row_no
    FROM import_bag_row r
    WHERE r.parent_qr IS NOT NULL AND {GOOD_ROWS}
      AND NOT EXISTS (SELECT 1 FROM bags_bag b WHERE b.qr_id = r.parent_qr)
    ORDER BY r.parent_qr, r.area_id IS NULL, r.row_no
) AS new_parents
"""  # noqa: S608 (a constant condition and enum literals are put in; every value is bound)

# The new children: a child takes its parent's area (the scan loop's rule); a listed child the row's, else
# the default.
NEW_CHILDREN_SQL = f"""
SELECT r.child_qr AS qr_id, {BagKind.CHILD.literal} AS kind, NULL::bigint AS product_id,
       CASE WHEN p.id IS NULL THEN COALESCE(r.area_id, %(default_area_id)s) ELSE p.dispatch_area_id END
           AS dispatch_area_id,
       r.row_no
FROM import_bag_row r
LEFT JOIN bags_bag p ON p.qr_id = r.parent_qr
WHERE r.child_qr IS NOT NULL AND {GOOD_ROWS}
  AND NOT EXISTS (SELECT 1 FROM bags_bag b WHERE b.qr_id = r.child_qr)
"""  # noqa: S608 (a constant condition and enum literals are put in; every value is bound)

# The pairs to link: every good row's parent and child (both exist by now).
PAIRS_SQL = f"""
SELECT r.row_no, p.id AS parent_id, p.qr_id AS parent_qr, p.dispatch_area_id, c.id AS child_id,
       c.qr_id AS child_qr
FROM import_bag_row r
JOIN bags_bag p ON p.qr_id = r.parent_qr
JOIN bags_bag c ON c.qr_id = r.child_qr
WHERE {GOOD_ROWS}
"""  # noqa: S608 (a constant condition is put in; every value is bound)


class ImportRefused(FileRefused):
    """The import cannot go on (the database refused a write, a bag changed meanwhile); nothing was changed."""


# The unique keys another import, a scan or a biller can take between an import's checks and its writes (the
# import saw them free), with what the operator is told; {} is the key's value, the code (for a link, the
# child's id, read back as its code).
TAKEN_MEANWHILE = {
    "bags_bag_qr_id_key": "{} was created by another import or scan while this one ran",
    "bags_link_child_id_key": "{} was put into a parent by a scan or another import while this one ran",
    "bill_number_unique_ci": "Bill {} was created by a biller or another import while this one ran",
}
KEY_VALUE = re.compile(r"=\((?P<value>.*)\) already exists")


def database_refusal(error: Exception) -> ImportRefused:
    """The sentence for a write the database refused: the code another transaction took meanwhile, when that
    is what happened (a unique violation, read from the server's diagnostics), else the server's own words."""
    cause = error if isinstance(error, psycopg.Error) else error.__cause__
    if isinstance(cause, psycopg.errors.UniqueViolation) and cause.diag.constraint_name in TAKEN_MEANWHILE:
        found = KEY_VALUE.search(cause.diag.message_detail or "")
        if found is not None:
            value = found["value"]
            if cause.diag.constraint_name == "bags_link_child_id_key":
                value = Bag.objects.filter(pk=value).values_list("qr_id", flat=True).first() or f"Bag {value}"
            return ImportRefused(
                ImportRefusal.CREATED_MEANWHILE,
                TAKEN_MEANWHILE[cause.diag.constraint_name].format(value)
                + "; nothing was written; run the import again.",
            )
    return ImportRefused(
        ImportRefusal.DATABASE_REFUSED,
        f"The database refused the import, so nothing was written: {str(error).strip().splitlines()[0]}",
    )


# The scan loop's codes name the scan step a code came at (parent_where_child_expected); a file's operator
# needs the column. Same sentences, a code per column.
PARENT_IN_CHILD_COLUMN = "parent_in_child_column"
CHILD_IN_PARENT_COLUMN = "child_in_parent_column"


def column_code(column: str, error: qr.QRCodeError, formats: tuple[qr.ParentFormat, ...], raw: str) -> str:
    """The row-issue code for a code refused in ``column``: a parent code, or one looking like a parent's,
    in the child column; a child code in the parent column, unless it is a parent code with the wrong digits
    (SB1234 where parents are SB + 5 digits), which is a bad parent format wherever it is."""
    if column == "child" and error.code in (QRRefusal.PARENT_WHERE_CHILD_EXPECTED, QRRefusal.BAD_PARENT_FORMAT):
        return PARENT_IN_CHILD_COLUMN
    if column == "parent" and error.code == QRRefusal.CHILD_WHERE_PARENT_EXPECTED:
        misread = qr.near_parent_hint(raw.strip().upper(), formats)
        return QRRefusal.BAD_PARENT_FORMAT if misread else CHILD_IN_PARENT_COLUMN
    return error.code


@dataclass
class _Lookups:
    """What the row checks need, read once: parent formats, products and areas by code or name."""

    formats: tuple[qr.ParentFormat, ...]
    products: dict[str, Product]  # by code and by name, lower-case
    product_ids: dict[str, int]  # by product code
    areas: dict[str, DispatchArea]  # by code and by name, lower-case
    area_names: dict[int, str]

    @classmethod
    def load(cls) -> "_Lookups":
        # Straight from the table, not the few-seconds cache the scan loop uses: a product added a
        # moment ago must already own its codes here.
        products = list(Product.objects.order_by("code"))
        areas = list(DispatchArea.objects.all())
        return cls(
            formats=tuple(product.parent_format for product in products),
            products={key.lower(): p for p in products for key in (p.code, p.name)},
            product_ids={p.code: p.pk for p in products},
            areas={key.lower(): a for a in areas for key in (a.code, a.name)},
            area_names={a.pk: a.name for a in areas},
        )

    def area_name(self, area_id: int | None) -> str:
        return self.area_names.get(area_id, "no dispatch area") if area_id is not None else "no dispatch area"


def _null(value: Any) -> str:
    return r"\N" if value is None else str(value)


class _RowChecker:
    """The per-row checks, in Python, as the file streams in; each good row becomes a COPY line."""

    def __init__(self, table: Table, layout: str, lookups: _Lookups) -> None:
        self.table = table
        self.layout = layout
        self.lookups = lookups
        self.columns = {name: table.column(name) for name in (*LINK_COLUMNS, *BAG_COLUMNS, *OPTIONAL_COLUMNS)}
        # Link files list a parent's children together: remember the last parent code read, not all of them.
        self._last_parent: tuple[str, qr.ParsedCode] | None = None

    def cell(self, cells: list[str], name: str) -> str:
        index = self.columns[name]
        return cells[index].strip() if index is not None else ""

    def line(self, row: int, cells: list[str]) -> str | RowIssue:
        issue = cell_issue(row, self.table.header, cells, codes=CODE_COLUMNS)
        if issue is not None:
            return issue
        try:
            if self.layout == LINKS:
                parent = self._parent(self.cell(cells, "parent"))
                child = self._code("child", self.cell(cells, "child"), qr.parse_child)
            else:
                parsed = self._code("code", self.cell(cells, "code"), qr.classify)
                parent, child = (parsed, None) if parsed.kind == qr.PARENT else (None, parsed)
        except qr.QRCodeError as error:
            return RowIssue(row, error.code, error.message)
        product_id, issue = self._product(row, cells, parent, child)
        if issue is not None:
            return issue
        area_id, issue = self._area(row, cells)
        if issue is not None:
            return issue
        parent_qr = parent.qr_id if parent else None
        child_qr = child.qr_id if child else None
        return f"{row}\t{_null(parent_qr)}\t{_null(product_id)}\t{_null(child_qr)}\t{_null(area_id)}\n"

    def _code(self, column: str, raw: str, parse) -> qr.ParsedCode:
        if not raw:
            raise qr.QRCodeError(f"missing_{column}", f"The {column} cell is empty.")
        try:
            return parse(raw, self.lookups.formats)
        except qr.QRCodeError as error:
            code = column_code(column, error, self.lookups.formats, raw)
            raise qr.QRCodeError(code, f"{column}: {error.message}") from error

    def _parent(self, raw: str) -> qr.ParsedCode:
        if self._last_parent is not None and self._last_parent[0] == raw:
            return self._last_parent[1]
        parsed = self._code("parent", raw, qr.parse_parent)
        self._last_parent = (raw, parsed)
        return parsed

    def _product(
        self, row: int, cells: list[str], parent: qr.ParsedCode | None, child: qr.ParsedCode | None
    ) -> tuple[int | None, RowIssue | None]:
        named = self.cell(cells, "product")
        product_id = self.lookups.product_ids[parent.product_code] if parent else None
        if not named:
            return product_id, None
        product = self.lookups.products.get(named.lower())
        if product is None:
            return None, RowIssue(row, "unknown_product", f"There is no product '{named}'.")
        if parent is None:
            return None, RowIssue(
                row, "product_on_child", f"{child.qr_id} is a child bag: only parent bags have a product."
            )
        if product.code != parent.product_code:
            owner = self.lookups.products[parent.product_code.lower()]
            return None, RowIssue(
                row, "product_mismatch", f"{parent.qr_id} is a {owner.name} parent code, not {product.name}."
            )
        return product_id, None

    def _area(self, row: int, cells: list[str]) -> tuple[int | None, RowIssue | None]:
        """The area the row names (None if it names none: new bags then get the default area)."""
        named = self.cell(cells, "area")
        if not named:
            return None, None
        area = self.lookups.areas.get(named.lower())
        if area is None:
            return None, RowIssue(row, "unknown_area", f"There is no dispatch area '{named}'.")
        if not area.is_active:
            return None, RowIssue(row, "area_inactive", f"Dispatch area {area.name} is no longer in use.")
        return area.pk, None


def layout_of(table: Table) -> str:
    """links if the header names parent and child, bags if it names code; refused otherwise."""
    if "parent" in table.header or "child" in table.header:
        check_columns(table, required=LINK_COLUMNS, optional=OPTIONAL_COLUMNS, layout="link")
        return LINKS
    if "code" in table.header:
        check_columns(table, required=BAG_COLUMNS, optional=OPTIONAL_COLUMNS, layout="bag list")
        return BAGS
    raise FileRefused(
        ImportRefusal.MISSING_COLUMNS,
        "Row 1 must name the columns: 'parent, child' (links; optionally product, area) or 'code' (a list "
        f"of bags; optionally product, area). It has: {', '.join(table.header)}.",
    )


def _issue(lookups: _Lookups, row: int, code: str, detail, number, parent_qr, child_qr, area_id) -> RowIssue:
    """The sentence for an issue found by the set-based checks."""
    bag = parent_qr if parent_qr and code in ("parent_is_child", "product_inactive") else child_qr or parent_qr
    messages = {
        "duplicate_in_file": f"{child_qr or parent_qr} is also on row {number}: each bag once per file.",
        "conflicting_area": f"{parent_qr} has another dispatch area here than on row {number}.",
        "parent_is_child": f"{parent_qr} is already a child bag; it cannot be a parent.",
        "child_is_parent": f"{child_qr} is already a parent bag, not a child.",
        "other_area": (
            f"{parent_qr if parent_qr else child_qr} belongs to {lookups.area_name(number)}, "
            f"not {lookups.area_name(area_id)}."
        ),
        "child_in_other_parent": f"{child_qr} is already in parent {detail}; it was not put into {parent_qr}.",
        "product_inactive": f"{bag} would be a new {detail} parent, but {detail} is no longer in use.",
        "parent_full": f"{parent_qr} is full: it holds {detail} of {number}, and this file has more children for it.",
        "parent_complete": f"{parent_qr} was marked complete with {detail} of {number}: no more children go in.",
        ALREADY_PRESENT: (
            f"{child_qr} is already in {parent_qr}; left as it is."
            if parent_qr and child_qr
            else f"{bag} is already there; left as it is."
        ),
    }
    return RowIssue(row, code, messages[code])


def import_bags(
    *,
    source: IO[bytes],
    file_name: str,
    user: User,
    default_area: DispatchArea | None = None,
    skip_invalid: bool = False,
    dry_run: bool = False,
    request: HttpRequest | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a links or bags file (layouts above). All or nothing: with any bad row nothing is written,
    unless ``skip_invalid``, when the good rows are. ``dry_run`` does every check and every write, then
    rolls back: the report says what the import would do, the database's own rules included.

    Raises FileRefused for a file that cannot be an import at all, ImportRefused when the database
    refuses a write (nothing is written then either).
    """
    table = open_table(source, file_name)
    layout = layout_of(table)
    report = ImportReport("bags", layout, file_name, dry_run=dry_run, skip_invalid=skip_invalid)
    try:
        with transaction.atomic(durable=True), connection.cursor() as cursor:
            _run(cursor.cursor, table, layout, report, user=user, default_area=default_area, progress=progress)
            # ON COMMIT DROP is enough in production; inside an outer transaction (the tests') it is not.
            cursor.execute(DROP_STAGE_SQL)
            if report.written:
                record(
                    actor=user,
                    action=AuditAction.BAG_IMPORT,
                    after={
                        "file": file_name,
                        "layout": layout,
                        "rows": report.rows,
                        "created": report.created,
                        "already_present": report.present_count,
                        "skipped_bad_rows": report.error_count,
                    },
                    request=request,
                )
            else:
                transaction.set_rollback(True)
    except (DatabaseError, psycopg.Error) as error:
        raise database_refusal(error) from error
    return report


def _run(pg, table: Table, layout: str, report: ImportReport, *, user, default_area, progress) -> None:
    lookups = _Lookups.load()
    checker = _RowChecker(table, layout, lookups)
    links = layout == LINKS
    pg.execute(CREATE_STAGE_SQL)
    if progress is not None:
        progress.start(table.declared_rows or 0, report)
    copy_rows(pg, "import_bag_row", STAGE_COLUMNS, chunked(_good_lines(table, checker, report)), "checking", progress)
    if report.stopped_at_row is not None:
        return
    if not report.rows:
        raise no_rows()
    if progress is not None:
        progress.advance("checking across rows", 0)
    pg.execute("ANALYZE import_bag_row")
    pg.execute(DUPLICATE_ROWS_SQL, {"links": links})
    if links:
        pg.execute(CONFLICTING_AREAS_SQL)
        # After the file is read, so the locks last only the set-based checks, the writes and the commit.
        pg.execute(LOCK_PARENTS_SQL)
    pg.execute(EXISTING_BAGS_SQL, {"links": links})
    if links:
        pg.execute(CAPACITY_SQL)
    _collect_issues(pg, report, lookups)
    # Nothing to write: bad rows without --skip-invalid, or every row refused (no audit of an import of nothing).
    if report.error_count and (not report.skip_invalid or not report.good_rows):
        return
    if progress is not None:
        progress.advance("writing", 0)
    now = timezone.now()
    values = {
        "user_id": user.pk if user else None,
        "now": now,
        "default_area_id": default_area.pk if default_area else None,
    }
    parents = Bag.objects.insert_from(pg, source=NEW_PARENTS_SQL, params=values)
    children = Bag.objects.insert_from(pg, source=NEW_CHILDREN_SQL, params=values)
    report.created = {"parents": parents, "children": children}
    if links:
        made, _scans, filled = Scan.objects.link_pairs(pg, pairs=PAIRS_SQL, action=ScanAction.IMPORT, params=values)
        report.created |= {"links": made, "parents now full": filled}
    report.written = not report.dry_run


def _good_lines(table: Table, checker: _RowChecker, report: ImportReport) -> Iterator[str]:
    for row, cells in read_rows(table, report):
        line = checker.line(row, cells)
        if isinstance(line, RowIssue):
            report.add(line)
            if not report.skip_invalid and report.error_count >= MAX_LISTED:
                report.stopped_at_row = row
                return
            continue
        yield line


def _collect_issues(pg, report: ImportReport, lookups: _Lookups) -> None:
    pg.execute(ISSUE_COUNTS_SQL)
    counts = dict(pg.fetchall())
    pg.execute(LISTED_ISSUES_SQL, {"limit": MAX_LISTED})
    issues = [_issue(lookups, *row) for row in pg.fetchall()]
    report.merge(issues, errors=counts.get(False, 0), present=counts.get(True, 0))
