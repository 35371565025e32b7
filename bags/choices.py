"""The bags app's choices, read by the models and by the raw SQL of every app (bags/managers.py and the rest)."""

from bags import qr
from traitortrack.choices import SQLTextChoices


class BagKind(SQLTextChoices):
    PARENT = qr.PARENT, "Parent"
    CHILD = qr.CHILD, "Child"
