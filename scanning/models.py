from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scanning.choices import ScanAction
from scanning.managers import ScanManager


class Scan(models.Model):
    """One scan event. Append-only: from these one can tell where any bag was on any date and who put it there.

    The codes are copied (bag_qr, parent_qr) so history survives a bag's later deletion, and the bag ids are
    kept without a foreign-key constraint: a deleted bag's events keep pointing at the id it had (ids are never
    reused), so the database never rewrites an event (scanning/migrations/0007_*: UPDATE and DELETE refused).
    """

    client_scan_id = models.CharField(
        max_length=64, unique=True, null=True, blank=True, help_text="Id made by the scanning device (exactly-once)."
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="scans", db_index=False)
    action = models.CharField(max_length=12, choices=ScanAction.choices)
    bag = models.ForeignKey(
        "bags.Bag", on_delete=models.DO_NOTHING, db_constraint=False, null=True, blank=True, related_name="scans"
    )
    bag_qr = models.CharField(max_length=20)
    parent = models.ForeignKey(
        "bags.Bag", on_delete=models.DO_NOTHING, db_constraint=False, null=True, blank=True, related_name="parent_scans"
    )
    parent_qr = models.CharField(max_length=20, blank=True)
    # A move's parent the child left (``parent`` is the one it went into). Never looked up by: no index.
    from_parent = models.ForeignKey(
        "bags.Bag",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        blank=True,
        related_name="+",
    )
    from_parent_qr = models.CharField(max_length=20, blank=True, db_default="")
    # Why a supervisor unlinked or an admin deleted (required there; empty for a dispatcher's scans).
    reason = models.CharField(max_length=200, blank=True, db_default="")
    # When the device says it was scanned, for a scan it queued offline and sent later (created_at is when
    # the server recorded it, and orders the events).
    device_time = models.DateTimeField(null=True, blank=True)
    dispatch_area = models.ForeignKey(
        "accounts.DispatchArea", on_delete=models.SET_NULL, null=True, blank=True, related_name="scans", db_index=False
    )
    # An undo names the scan it takes back; one-to-one, so no scan is ever undone twice.
    reverts = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True, related_name="reverted_by")
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScanManager()

    class Meta:
        verbose_name = _("scan")
        verbose_name_plural = _("scans")
        constraints = [
            models.CheckConstraint(condition=models.Q(action__in=ScanAction.values), name="scan_action_valid"),
            models.CheckConstraint(
                condition=models.Q(action=ScanAction.UNDO) | models.Q(reverts__isnull=True),
                name="scan_only_undo_reverts",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="scan_user_created_idx"),
            models.Index(fields=["dispatch_area", "-created_at"], name="scan_area_created_idx"),
            models.Index(fields=["-created_at"], name="scan_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.bag_qr}"


class ScanReply(models.Model):
    """The answer given to one client scan id, success or refusal.

    A repeat of the id (a retry after a lost answer, an offline replay) gets this answer back and
    writes nothing, so each physical scan is recorded exactly once.
    """

    client_scan_id = models.CharField(max_length=64, primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    status = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        # What a phone was told for each scan id, kept so a repeat gets the same answer.
        verbose_name = _("scan answer (for replays)")
        verbose_name_plural = _("scan answers (for replays)")

    def __str__(self) -> str:
        return self.client_scan_id


class ScanTally(models.Model):
    """The scans of a period that is over, counted once: ``counts`` is [[dispatch_area_id, user_id, scans], ...].

    The dashboard's "scans per hour" and "top dispatchers today" read these: a local hour (``minutes`` 60) for
    each hour that is over and, within the current hour, five-minute slots (``minutes`` 5), so only the
    minutes since the last slot are counted from scanning_scan, however busy the day. Scans are append-only,
    so a period's count is final once no scan of it can still be committing (overview.dashboard.SETTLE).
    The scan loop never writes here.
    """

    start = models.DateTimeField(help_text="Start of the period (local time).")
    minutes = models.PositiveSmallIntegerField()
    counts = models.JSONField()
    counted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "scan tallies"
        constraints = [
            models.UniqueConstraint(fields=["start", "minutes"], name="scantally_one_per_period"),
            models.CheckConstraint(condition=models.Q(minutes__in=[5, 60]), name="scantally_hour_or_slot"),
        ]

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M} +{self.minutes} min"


class ReportTally(models.Model):
    """The scan events and refused scans of one local hour, counted once for the reports (reports/figures.py):
    ``n`` events of ``action`` by a user, in an area, of a product, or ``n`` refusals (``action`` "refused",
    ``code`` the answer's code). ``day`` and ``hour`` are the settings.TIME_ZONE day and hour of day, so a
    report of local days reads whole rows (the two 01:00 of a clock going back share one row). Filled up to
    ReportTallyMark.until by reports/tasks.py's periodic job; a report counts what came after from the
    events themselves. Area and product 0 stand for none (a refusal has neither), so the unique key holds.
    """

    REFUSED = "refused"

    day = models.DateField()
    hour = models.PositiveSmallIntegerField()
    user_id = models.IntegerField()
    area_id = models.IntegerField()
    product_id = models.IntegerField()
    action = models.CharField(max_length=12)
    code = models.CharField(max_length=40)
    n = models.PositiveIntegerField()

    class Meta:
        verbose_name_plural = "report tallies"
        constraints = [
            models.UniqueConstraint(
                fields=["day", "hour", "user_id", "area_id", "product_id", "action", "code"],
                name="reporttally_one_per_key",
            ),
            models.CheckConstraint(condition=models.Q(hour__lte=23), name="reporttally_hour_of_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.hour:02}h {self.action} {self.n}"


class ReportTallyMark(models.Model):
    """One row: the ReportTally rows hold every event and refusal recorded before ``until``."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    until = models.DateTimeField()

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="reporttallymark_one_row")]

    def __str__(self) -> str:
        return f"tallied until {self.until:%Y-%m-%d %H:%M}"
