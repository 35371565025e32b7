from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReturnsConfig(AppConfig):
    """Return tickets: parent bags that came back from dispatched bills, scanned onto a ticket and released
    from their bills when it is committed (above bills, whose entries it marks)."""

    name = "returns"
    verbose_name = _("Returns")
