"""Bulk import of bills with their parent bags: ``manage.py import_bills FILE --user ADMIN`` (layout in the README)."""

from typing import IO

from accounts.models import User
from imports.bill_import import import_bills
from imports.files import ImportReport
from imports.management.base import Bar, ImportCommand


class Command(ImportCommand):
    help = (
        "Import bills from a .csv or .xlsx file, one row per parent bag on a bill: bill_number, customer, date, "
        "expected_parents, parent (and optionally product, notes). Every row is checked first; a bad row and "
        "nothing is written (unless --skip-invalid); bills already there are left alone."
    )

    def run_import(self, *, source: IO[bytes], file_name: str, user: User, bar: Bar, options: dict) -> ImportReport:
        return import_bills(
            source=source,
            file_name=file_name,
            user=user,
            skip_invalid=options["skip_invalid"],
            dry_run=options["dry_run"],
            progress=bar,
        )
