"""The bills app's choices, read by the models and by the bill SQL (bills/managers.py)."""

from traitortrack.choices import SQLTextChoices


class BillStatus(SQLTextChoices):
    DRAFT = "draft", "Draft"
    FINALISED = "finalised", "Finalised"
