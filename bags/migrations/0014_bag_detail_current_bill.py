"""The bag detail (bags_bag_detail, 0011) shows a parent's current bill: a parent returned on a return ticket
stays on its finalised bill, marked returned (bills 0004), and may be on a new one. Same result columns, so
the function is replaced in place.
"""

from importlib import import_module

from django.db import migrations

DETAIL_BEFORE = import_module("bags.migrations.0011_parent_complete_function").DETAIL
_BEFORE = "WHERE entry.parent_bag_id = bag.id)"
assert DETAIL_BEFORE.count(_BEFORE) == 1
DETAIL = DETAIL_BEFORE.replace(_BEFORE, "WHERE entry.parent_bag_id = bag.id AND entry.returned_at IS NULL)")


def _replace(sql: str) -> str:
    return sql.replace("CREATE FUNCTION bags_bag_detail", "CREATE OR REPLACE FUNCTION bags_bag_detail")


class Migration(migrations.Migration):
    dependencies = [
        ("bags", "0013_child_count_kept_by_links"),
        ("bills", "0004_bill_events_and_returns"),
    ]

    operations = [migrations.RunSQL(_replace(DETAIL), _replace(DETAIL_BEFORE))]
