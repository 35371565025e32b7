"""The bills app's choices, read by the models and by the bill SQL (bills/managers.py)."""

from django.utils.translation import gettext_lazy as _

from traitortrack.choices import SQLTextChoices


class BillStatus(SQLTextChoices):
    DRAFT = "draft", _("Draft")
    FINALISED = "finalised", _("Finalised")


class BillEventAction(SQLTextChoices):
    """What happened to a parent on a bill (bills.BillEvent, written by the database's triggers on bills_billbag)."""

    ADDED = "added", _("Put on bill")
    REMOVED = "removed", _("Taken off bill")
    FINALISED = "finalised", _("Bill finalised")
    REOPENED = "reopened", _("Bill reopened")
    RETURNED = "returned", _("Returned")
