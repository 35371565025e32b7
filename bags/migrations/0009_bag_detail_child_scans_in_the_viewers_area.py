"""The bag detail (bags_bag_detail, 0007) shows a dispatcher only the scans of a child made in their own area's
parents: a child takes the area of each parent it goes into (0008), so a child first scanned in area A and now
in B's parent is B's to see, but its time in A's parents (their codes among it) is not. A parent's scans all
name it, and a dispatcher sees only their own area's parents, so they need no such filter. Billers and admins
see every scan.
"""

from importlib import import_module

from django.db import migrations

BEFORE = import_module("bags.migrations.0007_bag_detail_function").FORWARD.replace(
    "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"
)
CHILD_SCANS = "OR (bag.kind = 'child' AND bag_id = bag.id)"
# A scan's parent is looked up by its key for each of the child's scans (a handful): never a read of all the
# area's bags.
CHILD_SCANS_IN_AREA = """OR (bag.kind = 'child' AND bag_id = bag.id
                      AND (NOT p_restricted OR EXISTS (
                          SELECT 1 FROM bags_bag AS scan_parent
                          WHERE scan_parent.id = scanning_scan.parent_id AND scan_parent.dispatch_area_id = p_area_id)))"""
assert BEFORE.count(CHILD_SCANS) == 1
FORWARD = BEFORE.replace(CHILD_SCANS, CHILD_SCANS_IN_AREA)


class Migration(migrations.Migration):
    dependencies = [("bags", "0008_children_take_their_parents_area")]

    operations = [migrations.RunSQL(FORWARD, BEFORE)]
