from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _

from bags import qr
from returns.choices import ReturnStatus
from returns.managers import ReturnTicketQuerySet

# RTN-YYYYMMDD-NNNN: the local day the ticket was made and its place that day (more digits past 9999).
NUMBER_MAX_LENGTH = 20


class ReturnTicket(models.Model):
    """Parent bags that came back from dispatched (finalised) bills. A draft collects the parents a biller
    scans; committing it releases each parent from its bill (bills.services.release_entries), cancelling it
    changes nothing. Its number, ``RTN-<local day>-<serial>``, is made race-free by returns.services."""

    number = models.CharField(max_length=NUMBER_MAX_LENGTH, unique=True, editable=False)
    day = models.DateField(editable=False, help_text="The local day the ticket was made (its number's date).")
    serial = models.PositiveIntegerField(editable=False, help_text="The ticket's place on its day.")
    source = models.CharField("came back from", max_length=200, help_text="Where the bags came back from.")
    notes = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=ReturnStatus.choices, default=ReturnStatus.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    committed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    committed_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)

    objects = ReturnTicketQuerySet.as_manager()

    class Meta:
        verbose_name = _("return ticket")
        verbose_name_plural = _("return tickets")
        constraints = [
            models.UniqueConstraint(fields=["day", "serial"], name="returnticket_day_serial_unique"),
            models.CheckConstraint(
                condition=Q(number__regex=r"^RTN-[0-9]{8}-[0-9]{4,}$"), name="returnticket_number_format"
            ),
            models.CheckConstraint(condition=~Q(source=""), name="returnticket_source_not_empty"),
            models.CheckConstraint(condition=Q(status__in=ReturnStatus.values), name="returnticket_status_valid"),
            models.CheckConstraint(
                condition=Q(status=ReturnStatus.COMMITTED, committed_at__isnull=False)
                | (~Q(status=ReturnStatus.COMMITTED) & Q(committed_at__isnull=True)),
                name="returnticket_committed_has_time",
            ),
            models.CheckConstraint(
                condition=Q(status=ReturnStatus.CANCELLED, cancelled_at__isnull=False)
                | (~Q(status=ReturnStatus.CANCELLED) & Q(cancelled_at__isnull=True)),
                name="returnticket_cancelled_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="returnticket_status_idx"),
            models.Index(fields=["-created_at"], name="returnticket_created_idx"),
            models.Index(Upper("source"), name="returnticket_source_upper_idx"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_draft(self) -> bool:
        return self.status == ReturnStatus.DRAFT


class ReturnTicketBag(models.Model):
    """A parent bag scanned onto a return ticket, and the bill entry its commit releases.

    A parent is once on a ticket and on one draft ticket at a time (returns.services decides it under a lock on
    the parent's bill entry); should it be on two drafts anyway, the first committed returns it and the other's
    commit is refused, naming the ticket. ``bill_bag`` is the entry the
    parent was on when scanned and, once committed, the one released; ``parent_qr`` and ``bill_number``
    are copied, so the ticket reads the same after its bag or bill is gone. ``client_scan_id`` is the scan's
    own id (scanning.ScanReply keeps its answer): a repeat gets the first answer back.
    """

    ticket = models.ForeignKey(ReturnTicket, on_delete=models.CASCADE, related_name="entries")
    parent_bag = models.ForeignKey(
        "bags.Bag", on_delete=models.DO_NOTHING, db_constraint=False, related_name="return_entries"
    )
    parent_qr = models.CharField(max_length=qr.MAX_LENGTH)
    bill_bag = models.ForeignKey(
        "bills.BillBag", on_delete=models.SET_NULL, null=True, blank=True, related_name="return_entries"
    )
    bill_number = models.CharField(max_length=50, blank=True)
    client_scan_id = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "return ticket bag"
        constraints = [
            models.UniqueConstraint(fields=["ticket", "parent_bag"], name="returnticketbag_parent_once_per_ticket")
        ]
        indexes = [
            models.Index(fields=["ticket", "added_at"], name="returnticketbag_ticket_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.parent_qr} on {self.ticket.number}"
