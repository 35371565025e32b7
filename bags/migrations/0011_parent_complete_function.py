"""What "full" and "complete" mean, once, for Python, SQL and the pages: the SQL functions bags_parent_full
(the children reach the product's capacity) and bags_parent_complete (full, or marked complete by a person:
``completed_at``). Every statement that decides or shows completion calls them, and the ORM reads them
through bags.managers.parent_complete, so a capacity an admin lowers makes a parent complete everywhere at
once. IMMUTABLE SQL functions of their arguments only: PostgreSQL inlines them into the calling statement.

The bag detail function (0007, 0009, 0010) now answers ``complete`` for the bag and its parent, read from them.
Its result columns change, so it is dropped and created again (no data is touched).

``child_count`` gets a database default of 0: a new bag holds no child, and the rows written outside the ORM
(the scan statements, the imports, the seeders) no longer name the column (0012 keeps it from the links).
"""

from importlib import import_module

from django.db import migrations, models

FUNCTIONS = """
CREATE FUNCTION bags_parent_full(child_count integer, capacity integer) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN COALESCE(child_count >= capacity, false);

CREATE FUNCTION bags_parent_complete(completed_at timestamptz, child_count integer, capacity integer)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN completed_at IS NOT NULL OR bags_parent_full(child_count, capacity);
"""
DROP_FUNCTIONS = """
DROP FUNCTION bags_parent_complete(timestamptz, integer, integer);
DROP FUNCTION bags_parent_full(integer, integer);
"""

DETAIL_BEFORE = import_module("bags.migrations.0010_bag_detail_scans_from_scanning_scan_json").FORWARD
DROP_DETAIL = "DROP FUNCTION bags_bag_detail(text, boolean, bigint, integer);"
_EDITS = (
    (
        "completed_at timestamptz,\n    dispatch_area varchar,",
        "completed_at timestamptz,\n    complete boolean, dispatch_area varchar,",
    ),
    (
        "bag.completed_at, area.name,",
        "bag.completed_at,\n           bags_parent_complete(bag.completed_at, bag.child_count, product.capacity), area.name,",
    ),
    (
        "'completed_at', parent.completed_at,",
        "'completed_at', parent.completed_at,\n                          'complete', "
        "bags_parent_complete(parent.completed_at, parent.child_count, parent_product.capacity),",
    ),
)
DETAIL = DETAIL_BEFORE.replace("CREATE OR REPLACE FUNCTION", "CREATE FUNCTION")
for before, after in _EDITS:
    assert DETAIL.count(before) == 1, before
    DETAIL = DETAIL.replace(before, after)


class Migration(migrations.Migration):
    dependencies = [("bags", "0010_bag_detail_scans_from_scanning_scan_json")]

    operations = [
        migrations.RunSQL(FUNCTIONS, DROP_FUNCTIONS),
        migrations.RunSQL(DROP_DETAIL + DETAIL, DROP_DETAIL + DETAIL_BEFORE),
        migrations.AlterField(
            model_name="bag",
            name="child_count",
            field=models.PositiveIntegerField(default=0, db_default=0, editable=False),
        ),
    ]
