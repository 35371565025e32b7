from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from bags.models import Product
from labels.layouts import ROLLS, LayoutKey


class Dpi(models.IntegerChoices):
    DPI_203 = 203, _("203 dpi (8 dots a millimetre)")
    DPI_300 = 300, _("300 dpi (12 dots a millimetre)")


class Printer(models.Model):
    """A Zebra (ZPL) label printer on the network, named by an admin: the label page sends it raw ZPL on its
    TCP port (9100, "raw" printing), so no driver or print server is needed."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    host = models.CharField(_("host"), max_length=255, help_text=_("The printer's IP address or host name."))
    port = models.PositiveIntegerField(
        _("port"), default=9100, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    roll = models.CharField(
        _("label roll"),
        max_length=20,
        choices=[(key.value, key.label) for key in ROLLS],
        default=LayoutKey.ROLL_50X25,
    )
    dpi = models.PositiveSmallIntegerField(_("print resolution"), choices=Dpi.choices, default=Dpi.DPI_203)
    timeout_seconds = models.PositiveSmallIntegerField(
        _("timeout (seconds)"),
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text=_("How long to wait for the printer before saying it cannot be reached."),
    )
    is_active = models.BooleanField(_("in use"), default=True)

    class Meta:
        verbose_name_plural = _("label printers")
        ordering = ["name"]
        verbose_name = _("label printer")
        constraints = [
            models.CheckConstraint(condition=Q(port__gte=1, port__lte=65535), name="printer_port_range"),
            models.CheckConstraint(
                condition=Q(timeout_seconds__gte=1, timeout_seconds__lte=60), name="printer_timeout_range"
            ),
            models.CheckConstraint(condition=Q(dpi__in=Dpi.values), name="printer_dpi_known"),
            models.CheckConstraint(condition=Q(roll__in=[key.value for key in ROLLS]), name="printer_roll_known"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


class LabelBatch(models.Model):
    """Parent codes of one product printed from the label page (a range or the next N): "the next N unused"
    starts after the highest code in use or printed before, so two printings never hand out one code twice."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    first_number = models.PositiveBigIntegerField()
    last_number = models.PositiveBigIntegerField()
    layout = models.CharField(max_length=20, choices=LayoutKey.choices)
    printed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    printed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("label batch")
        verbose_name_plural = _("label batches")
        constraints = [
            models.CheckConstraint(condition=Q(first_number__lte=F("last_number")), name="labelbatch_numbers_order"),
        ]
        indexes = [models.Index(fields=["product", "-last_number"], name="labelbatch_product_last_idx")]

    def __str__(self) -> str:
        return f"{self.product} {self.first_number}-{self.last_number}"
