"""Indexes holding only the exceptions list's candidates (reports/exceptions.py), so a rule reads a few
entries instead of the big tables:

- the scan events that take a child out of a parent (undo, unlink): "children scanned but in no parent"
  starts from them, and reads a child's last one. A few per cent of the events.
- the stored answers that are refusals (status 400 and up), by time: today's and the last 14 days' per
  dispatcher. A few per cent of the answers.

Both tables are insert-only (no update is ever made non-HOT by these). None on bags_bag: the rules over
parents use bag_kind_created_idx, and an index on child_count would take HOT updates from every scan.
Built concurrently: every scan writes both tables.
"""

from django.db import migrations

from scanning.choices import ScanAction
from traitortrack.indexes import concurrent_index

TAKEN_OUT = (
    f"ON scanning_scan (bag_id, created_at) WHERE action IN ({ScanAction.UNDO.literal}, {ScanAction.UNLINK.literal})"
)
REFUSED = "ON scanning_scanreply (created_at, user_id) WHERE status >= 400"


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("reports", "0002_default_thresholds"),
        ("scanning", "0007_scan_events_append_only"),
    ]

    operations = [
        *concurrent_index("scan_child_taken_out_idx", TAKEN_OUT),
        *concurrent_index("scanreply_refused_idx", REFUSED),
    ]
