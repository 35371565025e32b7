from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bags import qr
from bags.models import BagKind
from bills.choices import BillEventAction, BillStatus
from bills.managers import BillBagQuerySet, BillManager


class Bill(models.Model):
    """A dispatch document grouping parent bags. Weights are computed from child counts, never typed."""

    bill_number = models.CharField(max_length=50)
    customer = models.CharField("customer / destination", max_length=200)
    bill_date = models.DateField(default=timezone.localdate)
    status = models.CharField(max_length=10, choices=BillStatus.choices, default=BillStatus.DRAFT)
    # The product whose full-parent weight makes the expected total (a bill may still hold other products).
    product = models.ForeignKey("bags.Product", on_delete=models.PROTECT, related_name="bills")
    expected_parents = models.PositiveSmallIntegerField(help_text="Expected number of parent bags (1 to 500).")
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finalised_at = models.DateTimeField(null=True, blank=True)
    finalised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The weight rule frozen at finalising (the product's full-parent weight then); null while a draft.
    frozen_full_parent_weight_kg = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)

    objects = BillManager()

    class Meta:
        verbose_name = _("bill")
        verbose_name_plural = _("bills")
        constraints = [
            # Bill numbers are typed by people: "inv-7" and "INV-7" are the same bill.
            models.UniqueConstraint(Upper("bill_number"), name="bill_number_unique_ci"),
            models.CheckConstraint(condition=~Q(bill_number=""), name="bill_number_not_empty"),
            models.CheckConstraint(condition=Q(status__in=BillStatus.values), name="bill_status_valid"),
            models.CheckConstraint(
                condition=Q(expected_parents__gte=1, expected_parents__lte=500), name="bill_expected_parents_range"
            ),
            models.CheckConstraint(
                condition=Q(status=BillStatus.DRAFT) | Q(finalised_at__isnull=False), name="bill_finalised_has_time"
            ),
            # A finalised bill reads its weight rule from the snapshot, so it must have one; a draft has none.
            models.CheckConstraint(
                condition=Q(status=BillStatus.FINALISED, frozen_full_parent_weight_kg__isnull=False)
                | (~Q(status=BillStatus.FINALISED) & Q(frozen_full_parent_weight_kg__isnull=True)),
                name="bill_snapshot_when_finalised",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-bill_date"], name="bill_status_date_idx"),
            models.Index(fields=["-bill_date"], name="bill_date_idx"),
            models.Index(Upper("customer"), name="bill_customer_upper_idx"),
        ]

    def __str__(self) -> str:
        return self.bill_number


class BillBag(models.Model):
    """A parent bag on a bill. A parent is on at most one bill at a time, the database refuses a child here.

    A parent returned from a finalised bill (a committed return ticket) stays on it, snapshot untouched, marked
    ``returned_at`` and ``returned_on`` (the ticket's number): the bill still shows what was dispatched, and the
    parent may go onto a new bill (the uniqueness counts only entries not returned).
    """

    bill = models.ForeignKey(Bill, on_delete=models.CASCADE, related_name="bill_bags", db_index=False)
    parent_bag = models.ForeignKey(
        "bags.Bag", on_delete=models.PROTECT, related_name="bill_entries", db_constraint=False
    )
    parent_kind = models.CharField(max_length=6, db_default=BagKind.PARENT, editable=False)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    added_at = models.DateTimeField(auto_now_add=True)
    # The parent as it was when its bill was finalised (all null while the bill is a draft): a finalised
    # bill's view, manifest and exports read these, so later scans or product changes cannot alter it.
    frozen_child_count = models.PositiveIntegerField(null=True, blank=True)
    frozen_capacity = models.PositiveSmallIntegerField(null=True, blank=True)
    frozen_child_weight_kg = models.DecimalField(max_digits=8, decimal_places=3, null=True, blank=True)
    frozen_child_codes = ArrayField(models.CharField(max_length=qr.MAX_LENGTH), null=True, blank=True)
    returned_at = models.DateTimeField(null=True, blank=True)
    returned_on = models.CharField("return ticket", max_length=20, blank=True, db_default="")

    objects = BillBagQuerySet.as_manager()

    class Meta:
        verbose_name = _("parent on a bill")
        verbose_name_plural = _("parents on bills")
        constraints = [
            models.CheckConstraint(condition=Q(parent_kind=BagKind.PARENT), name="billbag_parent_kind_is_parent"),
            models.CheckConstraint(
                condition=Q(
                    frozen_child_count__isnull=True,
                    frozen_capacity__isnull=True,
                    frozen_child_weight_kg__isnull=True,
                    frozen_child_codes__isnull=True,
                )
                | Q(
                    frozen_child_count__isnull=False,
                    frozen_capacity__isnull=False,
                    frozen_child_weight_kg__isnull=False,
                    frozen_child_codes__isnull=False,
                ),
                name="billbag_snapshot_whole_or_none",
            ),
            models.UniqueConstraint(
                fields=["parent_bag"], condition=Q(returned_at__isnull=True), name="billbag_parent_on_one_bill"
            ),
            models.CheckConstraint(
                condition=Q(returned_at__isnull=True, returned_on="")
                | Q(returned_at__isnull=False, frozen_child_count__isnull=False) & ~Q(returned_on=""),
                name="billbag_returned_from_finalised",
            ),
        ]
        indexes = [models.Index(fields=["bill", "added_at"], name="billbag_bill_added_idx")]

    def __str__(self) -> str:
        return f"{self.parent_bag.qr_id} on {self.bill.bill_number}"


class BillEvent(models.Model):
    """What happened to a parent on a bill, append-only: written only by the database's triggers on
    bills_billbag (bills/migrations/0004_*), so every writer (the bill page, the admin, an import, a return)
    leaves one, and never updated or deleted. With the scan events it is a bag's story: which bill held a
    parent at any time. Who and when come from ``bills.events.acting`` (the transaction's settings), else the
    row's own (``added_by``, ``added_at``) or the database's clock. Ids are kept without constraints and the
    codes copied, so a deleted bill or bag keeps its events.
    """

    action = models.CharField(max_length=10, choices=BillEventAction.choices)
    bill = models.ForeignKey(Bill, on_delete=models.DO_NOTHING, db_constraint=False, related_name="events")
    bill_number = models.CharField(max_length=50)
    parent_bag = models.ForeignKey(
        "bags.Bag", on_delete=models.DO_NOTHING, db_constraint=False, related_name="bill_events"
    )
    parent_qr = models.CharField(max_length=qr.MAX_LENGTH)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    return_ticket = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(action__in=BillEventAction.values), name="billevent_action_valid")
        ]
        indexes = [models.Index(fields=["parent_bag", "created_at"], name="billevent_parent_created_idx")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.parent_qr} {self.bill_number}"
