"""The scanning app's choices: what a scan event did, and what that does to the children in parents.

Read by the models, the SQL of the scan loop (scanning/managers.py), the bag totals and the dashboard.
"""

from django.utils.translation import gettext_lazy as _

from traitortrack.choices import SQLTextChoices


class ScanAction(SQLTextChoices):
    OPEN_PARENT = "open_parent", _("Opened parent")
    LINK = "link", _("Linked child")
    UNLINK = "unlink", _("Unlinked child")
    UNDO = "undo", _("Undid scan")
    MOVE = "move", _("Moved child")
    COMPLETE = "complete", _("Marked parent complete")
    # A link made by a bulk import (imports/bag_import.py): part of the bag's history, but no dispatcher's
    # throughput, and never taken back by a dispatcher's undo (which looks for "link").
    IMPORT = "import", _("Linked by import")
    # An admin deleted the bag (a wrong code): its events stay, with its code, and this one ends its story.
    DELETE = "delete", _("Deleted bag")


# What each action does to the number of children in parents: +1 puts a child into a parent, -1 takes one
# out, 0 neither (a move takes it out of one parent and puts it into another). Every action is here
# (tests/scanning/test_choices.py), so a new one cannot be left out of the totals' arithmetic unnoticed.
CHILD_LINK_CHANGE: dict[ScanAction, int] = {
    ScanAction.OPEN_PARENT: 0,
    ScanAction.LINK: 1,
    ScanAction.UNLINK: -1,
    ScanAction.UNDO: -1,
    ScanAction.MOVE: 0,
    ScanAction.COMPLETE: 0,
    ScanAction.IMPORT: 1,
    # A deleted child that was in a parent leaves it, but the totals learn of deletions at their next count
    # (README, "Dashboard"): the event does not say whether the bag was in one.
    ScanAction.DELETE: 0,
}
PUTS_CHILD_IN = [action.value for action, change in CHILD_LINK_CHANGE.items() if change > 0]
TAKES_CHILD_OUT = [action.value for action, change in CHILD_LINK_CHANGE.items() if change < 0]
