"""What the bulk commands share: the progress bar (seed_bulk, import_bags, import_bills) and the import
commands' options and report."""

import sys
from pathlib import Path
from typing import IO

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from accounts.models import User
from imports.files import ImportReport
from traitortrack.errors import Refused


class Bar:
    """A imports.seeding.Progress drawn as a tqdm bar on stderr, so stdout keeps only the summary (and can be
    piped or captured)."""

    def __init__(self, enabled: bool, unit: str = " rows") -> None:
        self.enabled = enabled
        self.unit = unit
        self.bar: tqdm | None = None

    def start(self, total_rows: int, report: object = None) -> None:
        if self.enabled:
            # A total of 0 means unknown (a workbook that does not say how long it is): a counter, no bar.
            self.bar = tqdm(total=total_rows or None, unit=self.unit, unit_scale=True, file=sys.stderr)

    def advance(self, phase: str, rows: int) -> None:
        if self.bar is not None:
            if self.bar.desc != phase:
                self.bar.set_description(phase, refresh=False)
            self.bar.update(rows)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class ImportCommand(BaseCommand):
    """What import_bags and import_bills share: the options, the user, the report printed row by row.

    Subclasses set ``subject`` and implement ``run_import`` (one call to their import service).
    """

    subject = ""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The .csv or .xlsx file (layouts: see the README).")
        parser.add_argument("--user", required=True, help="Username the import is made by (audited; an admin).")
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="Import the good rows and report the bad ones (default: any bad row and nothing is written).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Check everything and report, but write nothing.")

    def handle(self, *args, **options) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No file at {path}.")
        user = User.objects.filter(username=options["user"]).select_related("dispatch_area").first()
        if user is None:
            raise CommandError(f"No user named {options['user']!r}.")
        if not user.is_admin:
            raise CommandError(f"{user.username} is not an admin: imports are for admins.")
        bar = Bar(enabled=options["verbosity"] > 0)
        try:
            with path.open("rb") as source:
                report = self.run_import(source=source, file_name=path.name, user=user, bar=bar, options=options)
        except Refused as refusal:
            raise CommandError(refusal.message) from refusal
        finally:
            bar.close()
        for line in report.lines()[:-2]:
            self.stdout.write(line)
        self.stdout.write(report.summary())
        good = report.written or (report.dry_run and not report.error_count)
        self.stdout.write((self.style.SUCCESS if good else self.style.ERROR)(report.outcome()))
        if report.error_count and not report.skip_invalid:
            raise CommandError(f"{report.error_count:,} bad rows: nothing was written.")

    def run_import(self, *, source: IO[bytes], file_name: str, user: User, bar: Bar, options: dict) -> ImportReport:
        raise NotImplementedError
