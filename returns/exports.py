"""What a return ticket's export holds: its parents as CSV, and as a workbook of the ticket and its parents.
The writing (streaming, formula escaping) is traitortrack/spreadsheets.py's."""

from collections.abc import Iterator
from typing import Any

from returns.managers import TicketParent
from returns.models import ReturnTicket
from traitortrack.spreadsheets import Sheet

CSV_HEADER = ["ticket", "status", "came_back_from", "parent", "product", "children", "bill", "added_at", "added_by"]


def csv_rows(ticket: ReturnTicket, parents: list[TicketParent]) -> Iterator[list[Any]]:
    for parent in parents:
        yield [
            ticket.number,
            ticket.status,
            ticket.source,
            parent.qr_id,
            parent.product,
            parent.child_count,
            parent.bill_number,
            parent.added_at,
            parent.added_by or "",
        ]


def csv_sheet(ticket: ReturnTicket, parents: list[TicketParent]) -> Sheet:
    return Sheet("Return", CSV_HEADER, csv_rows(ticket, parents))


def xlsx_sheets(ticket: ReturnTicket, parents: list[TicketParent]) -> list[Sheet]:
    facts: list[tuple[str, Any]] = [
        ("Ticket", ticket.number),
        ("Came back from", ticket.source),
        ("Status", ticket.get_status_display()),
        ("Made", ticket.created_at),
        ("Made by", ticket.created_by.username),
        ("Committed", ticket.committed_at),
        ("Parents", len(parents)),
        ("Children", sum(parent.child_count or 0 for parent in parents)),
        ("Notes", ticket.notes),
    ]
    rows = (
        [parent.qr_id, parent.product, parent.child_count, parent.bill_number, parent.added_at, parent.added_by or ""]
        for parent in parents
    )
    return [
        Sheet("Ticket", None, facts),
        Sheet("Parents", ["Parent", "Product", "Children", "Bill", "Added at", "Added by"], rows),
    ]
