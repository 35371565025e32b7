"""The returns app's choices, read by the models, the services and the templates."""

from django.utils.translation import gettext_lazy as _

from traitortrack.choices import SQLTextChoices


class ReturnStatus(SQLTextChoices):
    DRAFT = "draft", _("Draft")
    COMMITTED = "committed", _("Committed")
    CANCELLED = "cancelled", _("Cancelled")
