from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LabelsConfig(AppConfig):
    """QR labels for bag codes (A4 sheets, thermal rolls, ZPL to Zebra printers) and the command barcode
    sheet: above tracking, reading bags' products and codes, below the exports and imports."""

    name = "labels"
    verbose_name = _("Labels and printers")
