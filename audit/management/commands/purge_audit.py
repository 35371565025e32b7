"""Delete old audit log entries: the retention the deployment chooses, run from cron."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from audit import services


class Command(BaseCommand):
    help = (
        "Delete audit log entries older than DAYS, in batches. The purge is itself audited "
        "(action audit.purge). --dry-run only counts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", type=int, required=True, metavar="DAYS", dest="days")
        parser.add_argument("--dry-run", action="store_true", help="Print how many would go; delete nothing.")

    def handle(self, *args, days: int, dry_run: bool, **options) -> None:
        if days < 1:
            raise CommandError("--older-than must be at least 1 day.")
        cutoff = timezone.now() - timedelta(days=days)
        if dry_run:
            count = services.count_older_than(cutoff=cutoff)
            self.stdout.write(f"{count} audit entries older than {cutoff:%Y-%m-%d %H:%M %Z} would be deleted.")
            return
        deleted = services.purge_older_than(cutoff=cutoff)
        self.stdout.write(self.style.SUCCESS(f"Deleted {deleted} audit entries older than {cutoff:%Y-%m-%d %H:%M %Z}."))
