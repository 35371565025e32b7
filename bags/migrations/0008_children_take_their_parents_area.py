"""A child is in its parent's area: each child linked into a parent of another area (or of none) before the
scan loop held that rule (scanning/managers.py LINK_CHILD_SQL, imports/bag_import.py LINK_SQL) is moved to its
parent's area, so the parent's dispatchers see it and those of the area it was first scanned in no longer do.

Safe on a live table of 2 million bags: BATCH children's ids at a time, found through the links' unique index
on child_id, each batch its own short transaction (the migration is not atomic), so row locks last one batch
and a scan waits at most that long. Only rows whose area differs are written: a second run, or one after a
run that stopped half-way, changes nothing more. There is no way back: which area a child had is not kept.
"""

from django.db import migrations

BATCH = 10_000

LINKED_IDS_SQL = "SELECT min(child_id), max(child_id) FROM bags_link"

REHOME_SQL = """
UPDATE bags_bag AS child
SET dispatch_area_id = parent.dispatch_area_id, updated_at = now()
FROM bags_link AS link
JOIN bags_bag AS parent ON parent.id = link.parent_id
WHERE link.child_id >= %(start)s AND link.child_id < %(stop)s
  AND child.id = link.child_id
  AND child.dispatch_area_id IS DISTINCT FROM parent.dispatch_area_id
"""


def rehome_children(apps, schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(LINKED_IDS_SQL)
        first, last = cursor.fetchone()
        if first is None:
            return
        for start in range(first, last + 1, BATCH):
            cursor.execute(REHOME_SQL, {"start": start, "stop": start + BATCH})


class Migration(migrations.Migration):
    atomic = False  # each batch commits on its own

    dependencies = [("bags", "0007_bag_detail_function")]

    operations = [migrations.RunPython(rehome_children, migrations.RunPython.noop)]
