"""Bulk import of bills with their parent bags from a .csv or .xlsx file: ``manage.py import_bills`` and the
admin's import (imports/admin.py).

One row per parent bag on a bill; the rows of one bill share its bill number (in any case):

    bill_number, customer, date, expected_parents, product, notes, parent

The bill's details are read from its first row; later rows may leave them empty or repeat them, but not
contradict them. ``product`` and ``notes`` may be left out (the product then is the bills' default), and a
row with no parent makes a bill without parents yet. Dates are YYYY-MM-DD (or a date cell in Excel).

The rules are the bill pages': bills/services.py decides whether a parent may join a bill
(check_parent_can_join: a parent code, on no other bill, at most 500 a bill) and whether a bill number is
free. A bill that exists already is left alone: its rows are reported as present when the parent is on it
already, refused when the file would add one (that is the bill page's job). Bills are thousands, not
millions, so the rows are held in memory and the database is asked in batches, not row by row.
"""

import re
from dataclasses import dataclass, field
from datetime import date
from typing import IO

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models.functions import Upper
from django.http import HttpRequest

from accounts.models import User
from audit.choices import AuditAction
from audit.services import record, snapshot
from bags import qr
from bags.models import Bag, Product
from bills.models import Bill, BillBag
from bills.services import BillRefused, check_bill_number_free, check_parent_can_join, default_product
from bills.signals import announce_bills_changed
from imports.bag_import import ImportRefused, column_code, database_refusal
from imports.copying import Progress
from imports.error_codes import ImportRefusal
from imports.files import (
    ALREADY_PRESENT,
    MAX_LISTED,
    ImportReport,
    RowIssue,
    Table,
    cell_issue,
    check_columns,
    no_rows,
    open_table,
    read_rows,
)

REQUIRED_COLUMNS = ("bill_number", "customer", "date", "expected_parents", "parent")
OPTIONAL_COLUMNS = ("product", "notes")
# Refused from a number, TRUE/FALSE or date cell of a workbook: a code is text, and so is a bill number
# (invoice 00451 must not become bill 451).
CODE_COLUMNS = ("bill_number", "parent")
DETAIL_COLUMNS = ("customer", "date", "expected_parents", "product", "notes")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
LOOKUP_BATCH = 5_000
_number_length = Bill._meta.get_field("bill_number").max_length
_customer_length = Bill._meta.get_field("customer").max_length


@dataclass
class _NewBill:
    first_row: int
    bill_number: str
    customer: str
    bill_date: date
    expected_parents: int
    product: Product
    notes: str
    details: tuple[str, ...]  # the detail cells as written, to compare later rows with
    parents: list[tuple[int, str]] = field(default_factory=list)  # (row, parent code)


def _details(
    row: int, cells: dict[str, str], products: dict[str, Product], default: Product | None
) -> _NewBill | RowIssue:
    customer = cells["customer"]
    if not customer:
        return RowIssue(row, "missing_customer", "The customer cell is empty.")
    if len(customer) > _customer_length:
        return RowIssue(row, "customer_too_long", f"The customer is longer than {_customer_length} characters.")
    raw_date = cells["date"][:10] if ISO_DATE.match(cells["date"]) else cells["date"]
    try:
        bill_date = date.fromisoformat(raw_date)
    except ValueError:
        return RowIssue(row, "bad_date", f"'{cells['date']}' is not a date: write YYYY-MM-DD, e.g. 2026-11-23.")
    try:
        expected = int(cells["expected_parents"])
    except ValueError:
        expected = 0
    if not 1 <= expected <= 500:
        return RowIssue(
            row,
            "bad_expected_parents",
            f"expected_parents must be a whole number from 1 to 500, not '{cells['expected_parents']}'.",
        )
    named = cells.get("product", "")
    product = products.get(named.lower()) if named else default
    if product is None:
        return RowIssue(row, "unknown_product", f"There is no product '{named}'.")
    if not product.is_active:
        return RowIssue(row, "product_inactive", f"{product.name} is no longer in use; choose another product.")
    details = tuple(cells.get(name, "") for name in DETAIL_COLUMNS)
    return _NewBill(row, cells["bill_number"], customer, bill_date, expected, product, cells.get("notes", ""), details)


def import_bills(
    *,
    source: IO[bytes],
    file_name: str,
    user: User,
    skip_invalid: bool = False,
    dry_run: bool = False,
    request: HttpRequest | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import bills and their parents (layout above). All or nothing unless ``skip_invalid``; ``dry_run``
    checks and writes, then rolls back. A bill whose first row is bad is not made: its other rows say so."""
    table = open_table(source, file_name)
    check_columns(table, required=REQUIRED_COLUMNS, optional=OPTIONAL_COLUMNS, layout="bill")
    report = ImportReport("bills", "bills", file_name, dry_run=dry_run, skip_invalid=skip_invalid)
    bills = _read(table, report, progress)
    if report.stopped_at_row is not None:
        return report
    if not report.rows:
        raise no_rows()
    existing = _existing_bills(bills)
    parents = _parents(bills)
    plan: list[tuple[_NewBill, list[Bag]]] = []
    first_rows = _first_rows(bills)
    for key, bill in bills.items():
        if not isinstance(bill, _NewBill):
            continue
        joining = _check_parents(bill, existing.get(key), parents, first_rows, report)
        if key not in existing:
            plan.append((bill, joining))
    report.issues.sort(key=lambda issue: issue.row)
    # Nothing to write: bad rows without --skip-invalid, or every row refused (no audit of an import of nothing).
    if report.error_count and (not skip_invalid or not report.good_rows):
        return report
    try:
        with transaction.atomic(durable=True):
            _write(plan, user=user, request=request)
            report.created = {"bills": len(plan), "parents on bills": sum(len(bags) for _, bags in plan)}
            if dry_run:
                transaction.set_rollback(True)
            else:
                record(
                    actor=user,
                    action=AuditAction.BILL_IMPORT,
                    after={
                        "file": file_name,
                        "rows": report.rows,
                        "created": report.created,
                        "bills": [bill.bill_number for bill, _ in plan],
                        "already_present": report.present_count,
                        "skipped_bad_rows": report.error_count,
                    },
                    request=request,
                )
                announce_bills_changed()  # the dashboard's bills by status
                report.written = True
    except BillRefused as refusal:
        raise ImportRefused(refusal.code, f"{refusal.message} Nothing was written.") from refusal
    except DatabaseError as error:
        raise database_refusal(error) from error
    return report


def _read(table: Table, report: ImportReport, progress: Progress | None) -> dict[str, _NewBill | RowIssue]:
    """Every row, grouped by bill number (upper-case): the bill read from its first row, or that row's issue.
    Without skip_invalid reading stops after MAX_LISTED bad rows, as the bags import does: nothing would be
    written anyway, and a file of a million junk rows is refused in a moment."""
    products = {key.lower(): p for p in Product.objects.all() for key in (p.code, p.name)}
    reader = _BillRows(products, default_product())
    if progress is not None:
        progress.start(table.declared_rows or 0, report)
    for row, values in read_rows(table, report):
        if progress is not None:
            progress.advance("checking", 1)
        issue = reader.read(row, table.header, values)
        if issue is not None:
            report.add(issue)
            if not report.skip_invalid and report.error_count >= MAX_LISTED:
                report.stopped_at_row = row
                break
    return reader.bills


class _BillRows:
    """The rows read so far, by bill number; each row read either joins its bill or is an issue."""

    def __init__(self, products: dict[str, Product], default: Product | None) -> None:
        self.products = products
        self.default = default
        self.formats = tuple(p.parent_format for p in products.values())
        self.bills: dict[str, _NewBill | RowIssue] = {}

    def read(self, row: int, header: list[str], values: list[str]) -> RowIssue | None:
        cells = {name: value.strip() for name, value in zip(header, values, strict=True)}
        issue = cell_issue(row, header, values, codes=CODE_COLUMNS)
        if issue is None and not cells["bill_number"]:
            issue = RowIssue(row, "missing_bill_number", "The bill_number cell is empty.")
        if issue is None and len(cells["bill_number"]) > _number_length:
            issue = RowIssue(row, "bill_number_too_long", f"Bill numbers have at most {_number_length} characters.")
        if issue is not None:
            return issue
        key = cells["bill_number"].upper()
        bill = self.bills.get(key)
        if bill is None:
            bill = self.bills[key] = _details(row, cells, self.products, self.default)
            if isinstance(bill, RowIssue):
                return bill
        elif isinstance(bill, RowIssue):
            return RowIssue(row, "bill_not_made", f"Bill {cells['bill_number']} is not made: see row {bill.row}.")
        else:
            written = tuple(cells.get(name, "") for name in DETAIL_COLUMNS)
            if any(cell and cell != first for cell, first in zip(written, bill.details, strict=True)):
                return RowIssue(
                    row,
                    "conflicting_bill_details",
                    f"The details of bill {bill.bill_number} differ from row {bill.first_row}; leave them "
                    "empty or the same on its later rows.",
                )
        if cells["parent"]:
            try:
                parent_qr = qr.parse_parent(cells["parent"], self.formats).qr_id
            except qr.QRCodeError as error:
                code = column_code("parent", error, self.formats, cells["parent"])
                return RowIssue(row, code, f"parent: {error.message}")
            bill.parents.append((row, parent_qr))
        return None


def _existing_bills(bills: dict[str, _NewBill | RowIssue]) -> dict[str, Bill]:
    keys = list(bills)
    found: dict[str, Bill] = {}
    for start in range(0, len(keys), LOOKUP_BATCH):
        batch = keys[start : start + LOOKUP_BATCH]
        for bill in Bill.objects.annotate(number=Upper("bill_number")).filter(number__in=batch):
            found[bill.bill_number.upper()] = bill
    return found


def _first_rows(bills: dict[str, _NewBill | RowIssue]) -> dict[str, int]:
    """Each parent's first row in the file, whichever bill it is on: a parent goes on one bill, so a later
    row naming it again is refused, on the same bill or another."""
    first: dict[str, int] = {}
    for row, code in sorted(pair for bill in bills.values() if isinstance(bill, _NewBill) for pair in bill.parents):
        first.setdefault(code, row)
    return first


def _parents(bills: dict[str, _NewBill | RowIssue]) -> dict[str, tuple[Bag, Bill | None]]:
    """Each parent the file names, with the bill it is on now (if any)."""
    codes = sorted({code for bill in bills.values() if isinstance(bill, _NewBill) for _, code in bill.parents})
    found: dict[str, tuple[Bag, Bill | None]] = {}
    for start in range(0, len(codes), LOOKUP_BATCH):
        bags = Bag.objects.filter(qr_id__in=codes[start : start + LOOKUP_BATCH])
        entries = BillBag.objects.current().filter(parent_bag__in=bags).select_related("bill")
        bills_of = {entry.parent_bag_id: entry.bill for entry in entries}
        for bag in bags:
            found[bag.qr_id] = (bag, bills_of.get(bag.pk))
    return found


def _check_parents(
    bill: _NewBill,
    existing: Bill | None,
    parents: dict[str, tuple[Bag, Bill | None]],
    first_rows: dict[str, int],
    report: ImportReport,
) -> list[Bag]:
    """The bill's parents that may join it, in file order; the others reported."""
    target = existing or Bill(bill_number=bill.bill_number)
    if existing is not None and not bill.parents:
        report.add(RowIssue(bill.first_row, ALREADY_PRESENT, f"Bill {existing.bill_number} is already there."))
    joining: list[Bag] = []
    for row, code in bill.parents:
        if first_rows[code] != row:
            report.add(
                RowIssue(row, "duplicate_in_file", f"{code} is also on row {first_rows[code]}: each parent once.")
            )
            continue
        found = parents.get(code)
        if found is None:
            report.add(RowIssue(row, "unknown_parent", f"Parent bag {code} was not found."))
            continue
        bag, on_bill = found
        if existing is not None and on_bill is not None and on_bill.pk == existing.pk:
            report.add(RowIssue(row, ALREADY_PRESENT, f"{code} is already on bill {existing.bill_number}."))
            continue
        if existing is not None:
            report.add(
                RowIssue(
                    row,
                    "bill_exists",
                    f"Bill {existing.bill_number} already exists; an import does not add parents to it "
                    "(scan them on the bill page).",
                )
            )
            continue
        try:
            check_parent_can_join(bill=target, bag=bag, on_bill=on_bill, parent_count=len(joining))
        except BillRefused as refusal:
            report.add(RowIssue(row, refusal.code, refusal.message))
            continue
        joining.append(bag)
    return joining


def _write(plan: list[tuple[_NewBill, list[Bag]]], *, user: User, request: HttpRequest | None) -> None:
    for bill, _ in plan:
        # Made by another biller since the file was read: the whole import stops (BillRefused).
        check_bill_number_free(bill.bill_number)
    made = Bill.objects.bulk_create(
        [
            Bill(
                bill_number=bill.bill_number,
                customer=bill.customer,
                bill_date=bill.bill_date,
                product=bill.product,
                expected_parents=bill.expected_parents,
                notes=bill.notes,
                created_by=user,
            )
            for bill, _ in plan
        ]
    )
    try:
        with transaction.atomic():
            BillBag.objects.bulk_create(
                [
                    BillBag(bill=saved, parent_bag=bag, added_by=user)
                    for saved, (_, bags) in zip(made, plan, strict=True)
                    for bag in bags
                ]
            )
    except IntegrityError as error:
        raise ImportRefused(
            ImportRefusal.PARENT_TAKEN,
            "A parent in the file was put on another bill while importing; nothing was written.",
        ) from error
    for saved in made:
        record(
            actor=user, action=AuditAction.BILL_CREATE, obj=saved, before=None, after=snapshot(saved), request=request
        )
