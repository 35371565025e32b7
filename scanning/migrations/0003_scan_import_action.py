"""Scan events may be ``import``: a link made by a bulk import (imports/bag_import.py).

The action check is replaced NOT VALID and validated after that commits: adding a CHECK takes an
ACCESS EXCLUSIVE lock, and validating it reads every scan event (years of them), which would stop the
scan loop for as long; VALIDATE CONSTRAINT takes a lock that lets scans go on.
"""

from django.db import migrations, models

ACTIONS = ["open_parent", "link", "unlink", "undo", "move", "complete", "import"]

# One statement, so there is no moment without the check.
FORWARD = f"""
ALTER TABLE scanning_scan DROP CONSTRAINT scan_action_valid,
    ADD CONSTRAINT scan_action_valid CHECK (action IN ({", ".join(f"'{action}'" for action in ACTIONS)})) NOT VALID;
"""
VALIDATE = "ALTER TABLE scanning_scan VALIDATE CONSTRAINT scan_action_valid;"
BACKWARD = """
ALTER TABLE scanning_scan DROP CONSTRAINT scan_action_valid,
    ADD CONSTRAINT scan_action_valid CHECK (action IN ('open_parent', 'link', 'unlink', 'undo', 'move', 'complete'));
"""


class Migration(migrations.Migration):
    atomic = False  # the VALIDATE must run after the NOT VALID constraint has committed

    dependencies = [("scanning", "0002_scan_replies_and_undo_links")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(FORWARD, BACKWARD),
                migrations.RunSQL(VALIDATE, migrations.RunSQL.noop),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="scan",
                    name="action",
                    field=models.CharField(
                        choices=[
                            ("open_parent", "Opened parent"),
                            ("link", "Linked child"),
                            ("unlink", "Unlinked child"),
                            ("undo", "Undid scan"),
                            ("move", "Moved child"),
                            ("complete", "Marked parent complete"),
                            ("import", "Linked by import"),
                        ],
                        max_length=12,
                    ),
                ),
                migrations.RemoveConstraint(model_name="scan", name="scan_action_valid"),
                migrations.AddConstraint(
                    model_name="scan",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("action__in", ACTIONS)), name="scan_action_valid"
                    ),
                ),
            ],
        )
    ]
