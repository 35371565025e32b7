"""The end-of-day summary: a local day's bills with their weights, its scans per dispatcher and the exceptions
open when it is made, mailed (HTML and plain text, in each one's language) to every active biller and admin
with an address. The periodic job (reports/tasks.py) mails the day just over; ``manage.py send_daily_summary
--date D`` any day that is over; /reports/summary/ shows it.

Sent once, however many workers run: the first run to claim a day inserts its DailySummary (the unique day,
ON CONFLICT DO NOTHING) and, in the same transaction, one SummaryMail per recipient; a run that finds the
day claimed adds none. Each mail is then sent inside a transaction holding its row (FOR UPDATE SKIP LOCKED,
so two runs share the mails out and never take the same one) and marked sent in it. A failed send is
counted and tried again by the next run (up to MAX_ATTEMPTS); a worker that dies before its commit leaves the
row unsent, so its mail is sent by the next run: a mail may then go twice, never not at all.
"""

import logging
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models import Count
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import Role, User
from bills import weights
from bills.choices import BillStatus
from bills.models import Bill
from reports.exceptions import Rule, open_exceptions, refusals_per_user
from reports.models import DailySummary, SummaryMail
from scanning.models import Scan, ScanAction
from traitortrack.forms import local_day_start

logger = logging.getLogger(__name__)

# A mail whose sending failed this often is left alone (its row keeps the last error).
MAX_ATTEMPTS = 5
# The periodic job also retries the unsent mails of these days before the one just over.
RETRY_DAYS = 3
# The rows of each exception rule the mail lists (the page behind its link lists them all).
MAIL_ROWS = 5

_CLAIM_SQL = """
INSERT INTO reports_dailysummary (day, created_at) VALUES (%s, %s)
ON CONFLICT (day) DO NOTHING
RETURNING id
"""


@dataclass(frozen=True)
class BillLine:
    number: str
    customer: str
    status: str
    finalised: bool
    parents: int
    children: int
    weight: str  # readable kilograms
    url: str


@dataclass(frozen=True)
class DispatcherLine:
    username: str
    scans: int
    refused: int


@dataclass(frozen=True)
class SummaryRule(Rule):
    url: str = ""  # the exceptions list showing this rule's rows


@dataclass(frozen=True)
class Summary:
    day: date
    bills: list[BillLine]
    dispatchers: list[DispatcherLine]
    rules: list[SummaryRule]
    weight: str  # all the day's bills
    site_url: str

    @property
    def scans(self) -> int:
        return sum(line.scans for line in self.dispatchers)

    @property
    def exceptions(self) -> int:
        return sum(rule.total for rule in self.rules)

    @property
    def exceptions_url(self) -> str:
        return absolute(reverse("reports:exceptions"))


def absolute(path: str) -> str:
    """A link in a mail: the site's address (settings.SITE_URL) and the path."""
    return f"{settings.SITE_URL}{path}"


def day_is_over(day: date) -> bool:
    return day < timezone.localdate()


def recipients() -> list[User]:
    return list(
        User.objects.filter(is_active=True, role__in=[Role.BILLER, Role.ADMIN]).exclude(email="").order_by("pk")
    )


def _bills(day: date) -> tuple[list[BillLine], Decimal]:
    """The bills dated ``day``, each as its page shows it (the snapshot once finalised): one query a bill."""
    lines, total = [], Decimal("0.000")
    labels = dict(BillStatus.choices)
    for pk in Bill.objects.filter(bill_date=day).order_by("bill_number", "pk").values_list("pk", flat=True):
        bill = Bill.objects.bill_view(pk)
        if bill is None:  # deleted since the list was read
            continue
        total += bill.actual_weight_kg
        lines.append(
            BillLine(
                number=bill.bill_number,
                customer=bill.customer,
                status=str(labels.get(bill.status, bill.status)),
                finalised=bill.is_finalised,
                parents=bill.parent_count,
                children=bill.child_count,
                weight=weights.readable_kg(bill.actual_weight_kg),
                url=absolute(reverse("bills:detail", args=[bill.id])),
            )
        )
    return lines, total


def _dispatchers(day: date) -> list[DispatcherLine]:
    """Scans and refusals per user over the local day. The scans in one pass over an index range of
    scanning_scan(created_at), as the dashboard counts them (an import's events are no one's scans); the
    refusals as the exceptions list counts them (a harmless duplicate is none), from scanreply_refused_idx.
    The exceptions in the mail are those open when it is made, past midnight: the refusal-rate rule is
    about the new day by then, so the day's refusals are here."""
    start, end = local_day_start(day), local_day_start(day + timedelta(days=1))
    scans = dict(
        Scan.objects.filter(created_at__gte=start, created_at__lt=end)
        .exclude(action=ScanAction.IMPORT)
        .order_by()
        .values("user_id")
        .annotate(n=Count("pk"))
        .values_list("user_id", "n")
    )
    refused = refusals_per_user(start, end)
    names = dict(User.objects.filter(pk__in=[*scans, *refused]).values_list("pk", "username"))
    lines = [DispatcherLine(names[pk], scans.get(pk, 0), refused.get(pk, 0)) for pk in {*scans, *refused}]
    return sorted(lines, key=lambda line: (-line.scans, line.username))


def build(day: date) -> Summary:
    """The summary of ``day``, in the active language (the exceptions' words are made in it)."""
    bills, total = _bills(day)
    rules = [
        SummaryRule(
            rule.key,
            rule.title,
            rule.explanation,
            [replace(row, url=absolute(row.url)) for row in rule.rows[:MAIL_ROWS]],
            rule.total,
            absolute(f"{reverse('reports:exceptions')}?{urlencode({'rule': rule.key})}"),
        )
        for rule in open_exceptions()
    ]
    return Summary(day, bills, _dispatchers(day), rules, weights.readable_kg(total), settings.SITE_URL)


def message(summary: Summary, to: str) -> EmailMultiAlternatives:
    """The mail of ``summary`` to ``to``, in the active language: plain text with an HTML alternative."""
    subject = render_to_string("reports/summary_subject.txt", {"summary": summary}).strip()
    context = {"summary": summary, "subject": subject}
    mail = EmailMultiAlternatives(subject, render_to_string("reports/summary_email.txt", context), to=[to])
    mail.attach_alternative(render_to_string("reports/summary_email.html", context), "text/html")
    return mail


def claim(day: date) -> bool:
    """Make the day's summary and its mails, unless a run did already: whether this one did."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM_SQL, [day, timezone.now()])
            row = cursor.fetchone()
        if row is None:
            return False
        SummaryMail.objects.bulk_create(
            SummaryMail(
                summary_id=row[0], recipient=user, email=user.email, language=user.language or settings.LANGUAGE_CODE
            )
            for user in recipients()
        )
    return True


@dataclass
class Outcome:
    claimed: bool = False
    sent: int = 0
    failed: int = 0
    already_sent: int = 0


def send_pending(days: list[date], outcome: Outcome) -> Outcome:
    """Send the unsent mails of ``days``' summaries, one at a time, each inside the transaction that holds
    its row and marks it sent. The summary is made once per day and language in this run."""
    summaries = dict(DailySummary.objects.filter(day__in=days).values_list("pk", "day"))
    made: dict[tuple[date, str], Summary] = {}
    tried: list[int] = []
    while True:
        with transaction.atomic():
            mail = (
                SummaryMail.objects.select_for_update(skip_locked=True)
                .filter(summary_id__in=list(summaries), sent_at__isnull=True, attempts__lt=MAX_ATTEMPTS)
                .exclude(pk__in=tried)
                .order_by("pk")
                .first()
            )
            if mail is None:
                break
            tried.append(mail.pk)
            day = summaries[mail.summary_id]
            mail.attempts += 1
            try:
                # A savepoint: a database error while making the summary must not abort the transaction
                # that still has to count this attempt (else the same mail would stop every later run).
                with transaction.atomic(), translation.override(mail.language):
                    if (day, mail.language) not in made:
                        made[(day, mail.language)] = build(day)
                    message(made[(day, mail.language)], mail.email).send()
            except Exception as error:  # the mail server refused or is away: the next run tries again
                logger.exception("daily summary %s: mailing %s failed", day, mail.email)
                mail.last_error = f"{type(error).__name__}: {error}"[:500]
                outcome.failed += 1
            else:
                mail.sent_at = timezone.now()
                outcome.sent += 1
            mail.save(update_fields=["attempts", "last_error", "sent_at"])
    outcome.already_sent = SummaryMail.objects.filter(summary_id__in=list(summaries), sent_at__isnull=False).count()
    outcome.already_sent -= outcome.sent
    return outcome


def send_day(day: date) -> Outcome:
    """The by-hand run (manage.py send_daily_summary): claim ``day`` if no run did, send what is unsent."""
    return send_pending([day], Outcome(claimed=claim(day)))


def run_periodic(at: datetime) -> Outcome:
    """The periodic job's run at ``at``: the local day before it, once it is over, and the unsent mails of
    the RETRY_DAYS days before that."""
    yesterday = timezone.localdate(at) - timedelta(days=1)
    outcome = Outcome(claimed=claim(yesterday))
    return send_pending([yesterday - timedelta(days=back) for back in range(RETRY_DAYS + 1)], outcome)
