from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from bags import qr
from bags.choices import BagKind
from bags.managers import BagQuerySet, BagTotalsManager, ProductQuerySet


class Product(models.Model):
    """A product type: its parent bag code format, how many children a parent holds, and their weight.

    The one place a new product is added (the admin, or a data migration).
    """

    code = models.SlugField(max_length=30, unique=True)
    name = models.CharField(max_length=100, unique=True)
    parent_prefix = models.CharField(
        max_length=10, unique=True, help_text="Parent codes are this prefix followed by the digits, e.g. 'SB'."
    )
    parent_digits = models.PositiveSmallIntegerField(default=5)
    capacity = models.PositiveSmallIntegerField(default=30, help_text="Children a full parent holds.")
    child_weight_kg = models.DecimalField(max_digits=8, decimal_places=3, default=Decimal("1.000"))
    is_active = models.BooleanField(default=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(parent_prefix__regex=r"^[A-Z][A-Z0-9-]{0,9}$"), name="product_prefix_format"
            ),
            models.CheckConstraint(
                condition=Q(parent_digits__gte=1, parent_digits__lte=15), name="product_digits_range"
            ),
            # A command barcode (bags.qr.Command) can never be a parent code.
            models.CheckConstraint(
                condition=~Q(parent_prefix__startswith=qr.COMMAND_PREFIX), name="product_prefix_not_command"
            ),
            models.CheckConstraint(condition=Q(capacity__gte=1, capacity__lte=1000), name="product_capacity_range"),
            models.CheckConstraint(condition=Q(child_weight_kg__gt=0), name="product_child_weight_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def full_parent_weight_kg(self) -> Decimal:
        """Expected weight of a full parent: the one place this is computed."""
        return self.capacity * self.child_weight_kg

    @property
    def parent_format(self) -> qr.ParentFormat:
        return qr.ParentFormat(self.code, self.name, self.parent_prefix, self.parent_digits)


class Bag(models.Model):
    """A parent or child bag. A code is one kind for life (the links' composite foreign keys hold it)."""

    # unique=True also gives a varchar_pattern_ops index on PostgreSQL: prefix search ("SB12%") uses it.
    qr_id = models.CharField("QR code", max_length=qr.MAX_LENGTH, unique=True)
    kind = models.CharField(max_length=6, choices=BagKind.choices)
    # No index of its own: two or three products over 2 million bags, and only a product's deletion
    # (refused while it has bags) looks bags up by product.
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, null=True, blank=True, related_name="bags", db_index=False
    )
    dispatch_area = models.ForeignKey(
        "accounts.DispatchArea", on_delete=models.PROTECT, null=True, blank=True, related_name="bags", db_index=False
    )
    # Unindexed on purpose: every scan writes these tables, and only a user's deletion (rare; users
    # with scans are kept) looks rows up by it.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    # Kept by the database from the links (bags/migrations/0013_*), in the statement that writes them, so a
    # parent's fill level never needs a count over 1.8 million links; any other write of it is refused.
    child_count = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    # When a person marked the parent complete; being full is read from the count (bags_parent_complete).
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BagQuerySet.as_manager()

    class Meta:
        verbose_name = _("bag")
        verbose_name_plural = _("bags")
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=BagKind.values), name="bag_kind_valid"),
            # Upper-case, trimmed, 4-20 characters: the database holds the rule, not just the forms.
            models.CheckConstraint(condition=Q(qr_id__regex=qr.ANY_CODE_SQL_REGEX), name="bag_qr_id_format"),
            models.CheckConstraint(
                condition=~Q(kind=BagKind.CHILD) | Q(qr_id__regex=qr.CHILD_SQL_REGEX), name="bag_child_qr_id_format"
            ),
            models.CheckConstraint(condition=~Q(qr_id__startswith=qr.COMMAND_PREFIX), name="bag_qr_id_not_command"),
            models.CheckConstraint(
                condition=~Q(kind=BagKind.PARENT) | Q(product__isnull=False), name="bag_parent_has_product"
            ),
            models.CheckConstraint(
                condition=Q(kind=BagKind.PARENT) | Q(child_count=0, completed_at__isnull=True),
                name="bag_child_holds_nothing",
            ),
            # Target of the links' (bag id, kind) foreign keys.
            models.UniqueConstraint(fields=["id", "kind"], name="bag_id_kind_key"),
        ]
        indexes = [
            models.Index(fields=["dispatch_area", "kind", "-created_at"], name="bag_area_kind_created_idx"),
            models.Index(fields=["kind", "-created_at"], name="bag_kind_created_idx"),
        ]

    def __str__(self) -> str:
        return self.qr_id

    @property
    def is_parent(self) -> bool:
        return self.kind == BagKind.PARENT


class Link(models.Model):
    """A child bag inside a parent bag: current state only (history is in scanning.Scan).

    parent_kind/child_kind are constants that, with the composite foreign keys added in the migration,
    make the database refuse a child used as a parent and the reverse.
    """

    parent = models.ForeignKey(
        Bag, on_delete=models.PROTECT, related_name="child_links", db_constraint=False, db_index=False
    )
    child = models.OneToOneField(Bag, on_delete=models.CASCADE, related_name="parent_link", db_constraint=False)
    parent_kind = models.CharField(max_length=6, db_default=BagKind.PARENT, editable=False)
    child_kind = models.CharField(max_length=6, db_default=BagKind.CHILD, editable=False)
    # Unindexed on purpose: every scan writes these tables, and only a user's deletion (rare; users
    # with scans are kept) looks rows up by it.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("child in a parent")
        verbose_name_plural = _("children in parents")
        constraints = [
            models.CheckConstraint(condition=Q(parent_kind=BagKind.PARENT), name="link_parent_kind_is_parent"),
            models.CheckConstraint(condition=Q(child_kind=BagKind.CHILD), name="link_child_kind_is_child"),
        ]
        indexes = [models.Index(fields=["parent", "created_at"], name="link_parent_created_idx")]

    def __str__(self) -> str:
        return f"{self.child.qr_id} in {self.parent.qr_id}"


class BagTotals(models.Model):
    """Bags counted per dispatch area (one row per area, one for bags of none): the dashboard's totals as they
    were at ``counted_at``. Replaced as a whole at most every DASHBOARD_TOTALS_SECONDS by one process
    (BagTotalsManager.refresh); the dashboard adds what the bag and scan tables gained since, read from the
    rows after ``bag_mark`` and ``scan_mark``. The scan loop never writes here.
    """

    dispatch_area = models.ForeignKey(
        "accounts.DispatchArea", on_delete=models.CASCADE, null=True, blank=True, related_name="+", db_index=False
    )
    parents = models.PositiveIntegerField()
    children = models.PositiveIntegerField()
    # Children held by this area's parents (the sum of their child counts).
    linked = models.PositiveIntegerField()
    # The highest bag and scan ids when counted: the rows after them are what came since.
    bag_mark = models.BigIntegerField()
    scan_mark = models.BigIntegerField()
    counted_at = models.DateTimeField()

    objects = BagTotalsManager()

    class Meta:
        verbose_name_plural = "bag totals"
        constraints = [
            models.UniqueConstraint(fields=["dispatch_area"], nulls_distinct=False, name="bagtotals_one_per_area")
        ]

    def __str__(self) -> str:
        return f"{self.dispatch_area_id}: {self.parents} parents, {self.children} children"
