"""The bags app's choices, read by the models and by the raw SQL of every app (bags/managers.py and the rest)."""

from django.utils.translation import gettext_lazy as _

from bags import qr
from traitortrack.choices import SQLTextChoices


class BagKind(SQLTextChoices):
    PARENT = qr.PARENT, _("Parent")
    CHILD = qr.CHILD, _("Child")
