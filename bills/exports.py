"""What a bill's export holds: its parents and children as CSV, and as a workbook of three sheets. The
writing (streaming, formula escaping, constant memory) is traitortrack/spreadsheets.py's."""

from collections.abc import Iterator
from typing import Any

from bills.managers import BillView
from traitortrack.spreadsheets import Sheet

# returned_on last: a return adds the ticket's number to its parent's rows and changes nothing else.
CSV_HEADER = ["bill", "parent", "product", "parent_children", "parent_weight_kg", "child", "returned_on"]


def csv_rows(view: BillView) -> Iterator[list[Any]]:
    """One row per child (a parent without children gets one row with no child)."""
    for parent in view.parents:
        first = [view.bill_number, parent.qr_id, parent.product, parent.child_count, parent.weight_kg]
        for child in parent.child_codes or [""]:
            yield [*first, child, parent.returned_on]


def csv_sheet(view: BillView) -> Sheet:
    return Sheet("Bill", CSV_HEADER, csv_rows(view))


def xlsx_sheets(view: BillView) -> list[Sheet]:
    """The bill with its totals, its parents, their children."""
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
        ("Finalised at", view.finalised_at),
        ("Notes", view.notes),
    ]
    parents = (
        [
            parent.qr_id,
            parent.product,
            parent.child_count,
            parent.capacity,
            parent.weight_kg,
            parent.added_at,
            parent.returned_on,
        ]
        for parent in view.parents
    )
    children = ([parent.qr_id, child] for parent in view.parents for child in parent.child_codes or ())
    return [
        Sheet("Bill", None, facts),
        Sheet(
            "Parents",
            ["Parent", "Product", "Children", "Capacity", "Weight (kg)", "Added at", "Returned on"],
            parents,
            footer=["Total", "", view.child_count, "", view.actual_weight_kg, "", ""],
        ),
        Sheet("Children", ["Parent", "Child"], children),
    ]
