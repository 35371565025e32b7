"""The scan actions' classification: what each does to the children in parents, written once
(scanning.choices.CHILD_LINK_CHANGE) and read by the SQL of the bag totals."""

import pytest

from bags.models import BagTotals
from scanning.choices import CHILD_LINK_CHANGE, PUTS_CHILD_IN, TAKES_CHILD_OUT
from scanning.models import Scan, ScanAction
from tests import factories

pytestmark = pytest.mark.django_db


def test_every_scan_action_says_what_it_does_to_the_children_in_parents():
    # A new action fails here until it is classified, rather than skewing the totals unnoticed.
    assert set(CHILD_LINK_CHANGE) == set(ScanAction)
    assert set(CHILD_LINK_CHANGE.values()) <= {-1, 0, 1}


def test_the_totals_since_the_count_add_and_take_away_as_the_classification_says(area, mustard):
    dispatcher = factories.make_user("disp-a", area=area)
    BagTotals.objects.refresh()
    seen = {}
    for action in ScanAction:
        before, _ = BagTotals.objects.current(puts_in=PUTS_CHILD_IN, takes_out=TAKES_CHILD_OUT)
        Scan.objects.create(user=dispatcher, action=action, bag_qr="C0000001", dispatch_area=area)
        after, _ = BagTotals.objects.current(puts_in=PUTS_CHILD_IN, takes_out=TAKES_CHILD_OUT)
        seen[action] = after.linked - before.linked

    assert seen == CHILD_LINK_CHANGE
    assert seen[ScanAction.LINK] == seen[ScanAction.IMPORT] == 1 and seen[ScanAction.UNDO] == -1
