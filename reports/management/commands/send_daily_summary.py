"""Mail a day's end-of-day summary by hand: the periodic job's work (reports/summary.py) for any day over."""

import re
from datetime import date

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from reports import summary


class Command(BaseCommand):
    help = (
        "Mail the end-of-day summary of a local day that is over to every active biller and admin with an "
        "e-mail address, as the periodic job does. A day already mailed is not mailed again: only its mails "
        "not sent yet (a failed send) are."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", required=True, metavar="YYYY-MM-DD", dest="day")

    def handle(self, *args, day: str, **options) -> None:
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
                raise ValueError(day)
            chosen = date.fromisoformat(day)
        except ValueError:
            raise CommandError(f"--date must be a date as YYYY-MM-DD, e.g. 2026-11-20 (not {day!r}).") from None
        if not summary.day_is_over(chosen):
            today = timezone.localdate()
            raise CommandError(f"{chosen} is not over yet (today is {today} here): its summary would be incomplete.")
        outcome = summary.send_day(chosen)
        made = "made now" if outcome.claimed else "made before"
        line = f"Summary of {chosen} ({made}): {outcome.sent} sent, {outcome.already_sent} sent before, "
        line += f"{outcome.failed} failed."
        self.stdout.write(self.style.SUCCESS(line) if not outcome.failed else self.style.WARNING(line))
        if outcome.failed:
            raise CommandError("Some mails failed (see the log); run the command again to retry them.")
