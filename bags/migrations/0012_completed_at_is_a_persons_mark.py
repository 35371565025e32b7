"""``completed_at`` now means one thing: when a person marked the parent complete. Being full is no longer
stamped there (bags_parent_complete, 0010, reads the fill level itself), so the stamps the scan loop, the
imports and the seeders put on parents as they filled are cleared: otherwise an undo on such a parent would
leave it "marked" complete instead of open again.

A stamp is a fill's when the parent is full and no ``complete`` scan names it; a full parent stays complete
either way, so no parent's completion changes today. A stamp on a parent that is no longer full (its
capacity was raised) is left: it cannot be told from an admin's mark, and it keeps showing what it showed.

Safe on a live table: BATCH bag ids at a time by primary key, each batch its own short transaction (the
migration is not atomic); only stamped full parents are written, so a second run changes nothing.
"""

from django.db import migrations

BATCH = 10_000
MARKED = "complete"  # scanning.ScanAction.COMPLETE, as stored when this migration was written

BAG_IDS_SQL = "SELECT min(id), max(id) FROM bags_bag"

CLEAR_FILL_STAMPS_SQL = """
UPDATE bags_bag AS parent
SET completed_at = NULL
FROM bags_product AS product
WHERE parent.id >= %(start)s AND parent.id < %(stop)s
  AND parent.kind = 'parent' AND parent.completed_at IS NOT NULL
  AND product.id = parent.product_id
  AND bags_parent_full(parent.child_count, product.capacity)
  AND NOT EXISTS (SELECT 1 FROM scanning_scan AS scan WHERE scan.parent_id = parent.id AND scan.action = %(marked)s)
"""


def clear_fill_stamps(apps, schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(BAG_IDS_SQL)
        first, last = cursor.fetchone()
        if first is None:
            return
        for start in range(first, last + 1, BATCH):
            cursor.execute(CLEAR_FILL_STAMPS_SQL, {"start": start, "stop": start + BATCH, "marked": MARKED})


class Migration(migrations.Migration):
    atomic = False  # each batch commits on its own

    dependencies = [("bags", "0011_parent_complete_function"), ("scanning", "0005_scan_tallies")]

    # Backwards the stamps stay cleared: the old code reads a full parent as complete without them.
    operations = [migrations.RunPython(clear_fill_stamps, migrations.RunPython.noop)]
