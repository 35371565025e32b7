"""The bills app's choices, read by the models and by the bill SQL (bills/managers.py)."""

from traitortrack.choices import SQLTextChoices


class BillStatus(SQLTextChoices):
    DRAFT = "draft", "Draft"
    FINALISED = "finalised", "Finalised"


class BillEventAction(SQLTextChoices):
    """What happened to a parent on a bill (bills.BillEvent, written by the database's triggers on bills_billbag)."""

    ADDED = "added", "Put on bill"
    REMOVED = "removed", "Taken off bill"
    FINALISED = "finalised", "Bill finalised"
    REOPENED = "reopened", "Bill reopened"
    RETURNED = "returned", "Returned"
