"""A bill's parents and children as CSV and Excel files.

Every text cell goes through ``safe_cell``: a value starting with = + - @ (or a tab or carriage return) is
what a spreadsheet runs as a formula, so it gets a leading apostrophe (CSV injection; a customer name is
typed by people).
"""

import csv
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import IO, Any

from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from bills.managers import BillView

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_HEADER = ["bill", "parent", "product", "parent_children", "parent_weight_kg", "child"]


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _local(moment: datetime | None) -> datetime | None:
    # Excel has no time zones: show the warehouse's local time.
    return timezone.localtime(moment).replace(tzinfo=None) if moment else None


def csv_rows(view: BillView) -> Iterator[list[Any]]:
    """One row per child (a parent without children gets one row with no child), after a header."""
    yield CSV_HEADER
    for parent in view.parents:
        first = [view.bill_number, parent.qr_id, parent.product, parent.child_count, parent.weight_kg]
        for child in parent.child_codes or [""]:
            yield [safe_cell(value) for value in [*first, child]]


class _Echo:
    """csv.writer writes into this and gets the line back, so rows can be streamed as they are made."""

    def write(self, value: str) -> str:
        return value


def stream_csv(view: BillView) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # a byte-order mark, so Excel reads the customer's name as UTF-8
    for row in csv_rows(view):
        yield writer.writerow(row)


def _row(sheet, values: Iterable[Any], *, bold: bool = False) -> list[Any]:
    if not bold:
        return [safe_cell(value) for value in values]
    cells = []
    for value in values:
        cell = WriteOnlyCell(sheet, value=safe_cell(value))
        cell.font = Font(bold=True)
        cells.append(cell)
    return cells


def write_xlsx(view: BillView, target: IO[bytes]) -> None:
    """Three sheets: the bill with its totals, its parents, their children. Write-only mode: rows go to a
    temporary file as they are made instead of building the workbook in memory."""
    book = Workbook(write_only=True)
    summary = book.create_sheet("Bill")
    facts: list[tuple[str, Any]] = [
        ("Bill number", view.bill_number),
        ("Customer / destination", view.customer),
        ("Date", view.bill_date),
        ("Status", view.status),
        ("Product", view.product),
        ("Expected parents", view.expected_parents),
        ("Parents", view.parent_count),
        ("Children", view.child_count),
        ("Actual weight (kg)", view.actual_weight_kg),
        ("Expected weight (kg)", view.expected_weight_kg),
        ("Difference (kg)", view.difference_kg),
        ("Finalised at", _local(view.finalised_at)),
        ("Notes", view.notes),
    ]
    for label, value in facts:
        summary.append([safe_cell(label), safe_cell(value)])

    parents = book.create_sheet("Parents")
    parents.append(_row(parents, ["Parent", "Product", "Children", "Capacity", "Weight (kg)", "Added at"], bold=True))
    for parent in view.parents:
        parents.append(
            _row(
                parents,
                [
                    parent.qr_id,
                    parent.product,
                    parent.child_count,
                    parent.capacity,
                    parent.weight_kg,
                    _local(parent.added_at),
                ],
            )
        )
    parents.append(_row(parents, ["Total", "", view.child_count, "", view.actual_weight_kg, ""], bold=True))

    children = book.create_sheet("Children")
    children.append(_row(children, ["Parent", "Child"], bold=True))
    for parent in view.parents:
        for child in parent.child_codes or ():
            children.append(_row(children, [parent.qr_id, child]))
    book.save(target)


def xlsx_file(view: BillView) -> IO[bytes]:
    """The workbook in a temporary file (spilled to disk past 1 MB), rewound for sending."""
    target = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115 (the response closes it)
    write_xlsx(view, target)
    target.seek(0)
    return target
