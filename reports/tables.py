"""A report as tables: what the page shows, and the same rows as CSV (one file, each table under its title)
and as a workbook (a sheet each), through traitortrack/spreadsheets.py."""

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.formats import localize
from django.utils.html import format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from reports.figures import Report
from traitortrack.spreadsheets import Sheet


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    header: list[str]
    rows: list[list[Any]]

    def body_html(self) -> SafeString:
        """The rows as <tr>s, made here in one go: through the template's tags, a cell at a time, a long
        range's tables took most of the page's time (bench/reports.py)."""
        return format_html_join(
            "",
            "<tr>{}</tr>",
            ((format_html_join("", "<td>{}</td>", ((_cell(value),) for value in row)),) for row in self.rows),
        )


def _cell(value: Any) -> str:
    return "\u2013" if value is None else localize(value)


def percent(rate: Decimal | None) -> Decimal | None:
    return None if rate is None else (rate * 100).quantize(Decimal("0.1"))


def tables(report: Report) -> list[Table]:
    counts_header = [_("Scans"), _("Refusals"), _("Duplicates"), _("Undos")]
    made = [
        Table(
            "days",
            _("Scans per day"),
            [_("Day"), *counts_header],
            [[day, c.scans, c.refusals, c.duplicates, c.undos] for day, c in report.days],
        ),
        Table(
            "hours",
            _("Scans per hour of day"),
            [_("Hour"), *counts_header],
            [[f"{hour:02}:00", c.scans, c.refusals, c.duplicates, c.undos] for hour, c in report.hours],
        ),
        Table(
            "dispatchers",
            _("Per dispatcher"),
            [
                _("Dispatcher"),
                _("Scans"),
                _("Working hours"),
                _("Scans per working hour"),
                _("Refusals"),
                _("Refusal rate (%)"),
                _("Duplicates"),
                _("Duplicate rate (%)"),
                _("Undos"),
                _("Undo rate (%)"),
            ],
            [
                [
                    row.name,
                    row.counts.scans,
                    row.working_hours,
                    row.per_working_hour,
                    row.counts.refusals,
                    percent(row.counts.refusal_rate),
                    row.counts.duplicates,
                    percent(row.counts.duplicate_rate),
                    row.counts.undos,
                    percent(row.counts.undo_rate),
                ]
                for row in report.dispatchers
            ],
        ),
        Table(
            "refusals",
            _("Refusals by reason"),
            [_("Dispatcher"), _("Reason"), _("Refusals")],
            [
                [row.name, code, n]
                for row in report.dispatchers
                for code, n in sorted(row.counts.refused.items(), key=lambda item: (-item[1], item[0]))
            ],
        ),
        Table("areas", _("Per area"), [_("Area"), _("Scans")], [[name, c.scans] for name, c in report.areas]),
        Table(
            "products", _("Per product"), [_("Product"), _("Scans")], [[name, c.scans] for name, c in report.products]
        ),
    ]
    if report.bills is not None:
        made.append(
            Table(
                "bills",
                _("Bills per day"),
                [_("Day"), _("Bills"), _("Parents"), _("Children"), _("Weight (kg)")],
                [[row.day, row.bills, row.parents, row.children, row.weight_kg] for row in report.bills],
            )
        )
    if report.returns is not None:
        made.append(
            Table(
                "returns",
                _("Returns per day"),
                [_("Day"), _("Return tickets"), _("Committed"), _("Parents")],
                [[row.day, row.tickets, row.committed, row.parents] for row in report.returns],
            )
        )
    return made


def csv_sheet(made: list[Table]) -> Sheet:
    def rows() -> Iterator[list[Any]]:
        for number, table in enumerate(made):
            if number:
                yield []
            yield [table.title]
            yield table.header
            yield from table.rows

    return Sheet(_("Report"), None, rows())


def xlsx_sheets(made: list[Table]) -> list[Sheet]:
    # Excel refuses a sheet title over 31 characters.
    return [Sheet(table.title[:31], table.header, table.rows) for table in made]
