"""Bulk import of bags and links: ``manage.py import_bags FILE --user ADMIN`` (layouts in the README)."""

from typing import IO

from django.core.management.base import CommandError, CommandParser

from accounts.models import DispatchArea, User
from imports.bag_import import import_bags
from imports.files import ImportReport
from imports.management.base import Bar, ImportCommand


class Command(ImportCommand):
    help = (
        "Import bags and links from a .csv or .xlsx file: 'parent, child' rows (links) or 'code' rows (bags), "
        "each with optional product and area columns. Every row is checked first; a bad row and nothing is "
        "written (unless --skip-invalid); rows already there are reported and left alone."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--area", help="Dispatch area code for new bags whose row names none.")

    def run_import(self, *, source: IO[bytes], file_name: str, user: User, bar: Bar, options: dict) -> ImportReport:
        area = None
        if options["area"]:
            area = DispatchArea.objects.filter(code=options["area"]).first()
            if area is None:
                raise CommandError(f"No dispatch area with code {options['area']!r}.")
        return import_bags(
            source=source,
            file_name=file_name,
            user=user,
            default_area=area,
            skip_invalid=options["skip_invalid"],
            dry_run=options["dry_run"],
            progress=bar,
        )
