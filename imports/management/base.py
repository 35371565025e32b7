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


# The import commands' exit codes, for cron (the README's table). A dry run exits as the import would.
# 0: every row imported or already there. 1 (CommandError's default): nothing written, because of bad rows
# (every row refused, with --skip-invalid), a refused file, the database or a wrong user or file; argparse
# exits 2 for wrong options. 3: --skip-invalid refused some rows and imported the others.
NOTHING_WRITTEN = 1
ROWS_REFUSED = 3
# Rows already present listed one by one up to this many; beyond, only counted unless --verbosity 2.
PRESENT_LISTED = 20


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
        # A repeat import of a big file is all "already present": count those rows unless asked to list them.
        list_present = options["verbosity"] >= 2 or report.present_count <= PRESENT_LISTED
        for line in report.lines(list_present=list_present)[:-2]:
            self.stdout.write(line)
        self.stdout.write(report.summary())
        if not report.error_count:
            style = self.style.SUCCESS
        else:
            style = self.style.WARNING if report.written else self.style.ERROR
        self.stdout.write(style(report.outcome()))
        if not report.error_count:
            return
        if report.skip_invalid and report.good_rows:
            done = "would be imported or are already there" if report.dry_run else "were imported or already there"
            raise CommandError(
                f"{report.error_count:,} rows refused; the other {report.good_rows:,} {done}.", returncode=ROWS_REFUSED
            )
        raise CommandError(f"{report.error_count:,} bad rows: nothing was written.", returncode=NOTHING_WRITTEN)

    def run_import(self, *, source: IO[bytes], file_name: str, user: User, bar: Bar, options: dict) -> ImportReport:
        raise NotImplementedError
