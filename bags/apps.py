from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BagsConfig(AppConfig):
    name = "bags"
    verbose_name = _("Bags and scans")
