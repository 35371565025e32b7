from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# The one row's key: a CHECK holds it, so a second row cannot exist.
THRESHOLDS_PK = 1


class ExceptionThresholds(models.Model):
    """The limits of the exceptions list (reports/exceptions.py), one row, set by admins in the admin.

    Created with its defaults by reports/migrations/0002_*; CHECKs keep each limit in a sane range, so a
    typo cannot turn a rule off (0 hours) or make it silent for a year.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=THRESHOLDS_PK, editable=False)
    open_parent_hours = models.PositiveSmallIntegerField(
        _("open parent hours"),
        default=4,
        help_text=_("A parent opened today is listed once it has been open (not full, not complete) longer than this."),
    )
    unbilled_parent_hours = models.PositiveSmallIntegerField(
        _("unbilled full parent hours"),
        default=24,
        help_text=_("A full or completed parent is listed once it has been on no bill longer than this after opening."),
    )
    draft_bill_days = models.PositiveSmallIntegerField(
        _("draft bill days"), default=2, help_text=_("A draft bill is listed once it is older than this.")
    )
    draft_return_hours = models.PositiveSmallIntegerField(
        _("draft return ticket hours"),
        default=24,
        help_text=_("A draft return ticket is listed once it is older than this."),
    )
    refusal_factor = models.DecimalField(
        _("refusal rate factor"),
        max_digits=4,
        decimal_places=1,
        default=Decimal("3.0"),
        help_text=_("A dispatcher is listed when today's refusal rate is more than this many times their usual."),
    )
    refusal_min_scans = models.PositiveSmallIntegerField(
        _("minimum scans today"),
        default=30,
        help_text=_("Fewer scans than this today never list a dispatcher (one refusal in two scans is no pattern)."),
    )
    refusal_floor_percent = models.PositiveSmallIntegerField(
        _("lowest usual refusal rate (%)"),
        default=2,
        help_text=_("A usual rate below this counts as this, so a dispatcher who never erred is not listed for one."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("exception thresholds")
        verbose_name_plural = _("exception thresholds")
        constraints = [
            models.CheckConstraint(condition=Q(id=THRESHOLDS_PK), name="exceptionthresholds_one_row"),
            models.CheckConstraint(
                condition=Q(open_parent_hours__gte=1, open_parent_hours__lte=24), name="exceptionthresholds_open_range"
            ),
            models.CheckConstraint(
                condition=Q(unbilled_parent_hours__gte=1, unbilled_parent_hours__lte=720),
                name="exceptionthresholds_unbilled_range",
            ),
            models.CheckConstraint(
                condition=Q(draft_bill_days__gte=1, draft_bill_days__lte=90),
                name="exceptionthresholds_draft_bill_range",
            ),
            models.CheckConstraint(
                condition=Q(draft_return_hours__gte=1, draft_return_hours__lte=720),
                name="exceptionthresholds_draft_return_range",
            ),
            models.CheckConstraint(
                condition=Q(refusal_factor__gte=Decimal("1.0"), refusal_factor__lte=Decimal("50.0")),
                name="exceptionthresholds_factor_range",
            ),
            models.CheckConstraint(
                condition=Q(refusal_min_scans__gte=1, refusal_min_scans__lte=10000),
                name="exceptionthresholds_min_scans_range",
            ),
            models.CheckConstraint(
                condition=Q(refusal_floor_percent__gte=0, refusal_floor_percent__lte=100),
                name="exceptionthresholds_floor_range",
            ),
        ]

    def __str__(self) -> str:
        return str(self._meta.verbose_name)

    @classmethod
    def current(cls) -> "ExceptionThresholds":
        """The one row (made with the defaults if a fresh database lacks it)."""
        return cls.objects.get_or_create(pk=THRESHOLDS_PK)[0]


class DailySummary(models.Model):
    """The end-of-day summary of one local day (reports/summary.py): made once, by whichever run claims the
    day first (INSERT ... ON CONFLICT DO NOTHING on the unique day), with one SummaryMail per recipient."""

    day = models.DateField(unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("daily summary")
        verbose_name_plural = _("daily summaries")

    def __str__(self) -> str:
        return self.day.isoformat()


class SummaryMail(models.Model):
    """One recipient's mail of a daily summary. ``sent_at`` is written in the transaction that holds the row
    locked while the mail is handed to the mail server, so a mail is sent once however many workers run; a
    row whose sending failed or whose worker died stays unsent and is tried again by the next run."""

    summary = models.ForeignKey(DailySummary, on_delete=models.CASCADE, related_name="mails")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # The address and language when the day was claimed: where the mail went, even if they change later.
    email = models.EmailField()
    language = models.CharField(max_length=8)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        verbose_name = _("daily summary mail")
        verbose_name_plural = _("daily summary mails")
        constraints = [models.UniqueConstraint(fields=["summary", "recipient"], name="summarymail_once_per_user")]
        indexes = [
            models.Index(fields=["summary"], condition=Q(sent_at__isnull=True), name="summarymail_unsent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.summary} → {self.email}"
