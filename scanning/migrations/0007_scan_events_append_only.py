"""Scan events are append-only, and say enough to tell where any bag was at any time.

- The database refuses UPDATE and DELETE of a scan event (a trigger): undo, move, unlink and delete are events
  of their own. So the bag and parent ids lose their foreign-key constraints (a deleted bag's events keep the
  id it had, never reused, and its code); Django's SET_NULL would have rewritten them.
- A move names the parent the child left (``from_parent``), a supervisor's unlink or an admin's deletion its
  ``reason``, and a scan queued offline the device's time (``device_time``).
- ``delete``: an admin deleted the bag. The action check is replaced NOT VALID and validated after that
  commits, as in 0003 (adding a CHECK takes an ACCESS EXCLUSIVE lock; validating reads every event).
"""

import django.db.models.deletion
from django.db import migrations, models

ACTIONS = ["open_parent", "link", "unlink", "undo", "move", "complete", "import", "delete"]
BEFORE = ACTIONS[:-1]


def _check(actions, valid=""):
    listed = ", ".join(f"'{action}'" for action in actions)
    return f"""
ALTER TABLE scanning_scan DROP CONSTRAINT scan_action_valid,
    ADD CONSTRAINT scan_action_valid CHECK (action IN ({listed})){valid};
"""


VALIDATE = "ALTER TABLE scanning_scan VALIDATE CONSTRAINT scan_action_valid;"

APPEND_ONLY = """
CREATE FUNCTION scanning_scan_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'scan events are append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation', CONSTRAINT = 'scan_append_only';
END $$;
CREATE TRIGGER scanning_scan_append_only BEFORE UPDATE OR DELETE ON scanning_scan
    FOR EACH ROW EXECUTE FUNCTION scanning_scan_append_only();
"""
DROP_APPEND_ONLY = """
DROP TRIGGER scanning_scan_append_only ON scanning_scan;
DROP FUNCTION scanning_scan_append_only();
"""


class Migration(migrations.Migration):
    atomic = False  # the VALIDATE must run after the NOT VALID constraint has committed

    dependencies = [
        ("accounts", "0002_promotion_requests_and_notifications"),
        ("bags", "0013_child_count_kept_by_links"),
        ("scanning", "0006_scan_event_json_function"),
    ]

    operations = [
        migrations.AddField(
            model_name="scan",
            name="device_time",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="scan",
            name="from_parent",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="bags.bag",
            ),
        ),
        migrations.AddField(
            model_name="scan",
            name="from_parent_qr",
            field=models.CharField(blank=True, db_default="", max_length=20),
        ),
        migrations.AddField(
            model_name="scan",
            name="reason",
            field=models.CharField(blank=True, db_default="", max_length=200),
        ),
        migrations.AlterField(
            model_name="scan",
            name="bag",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="scans",
                to="bags.bag",
            ),
        ),
        migrations.AlterField(
            model_name="scan",
            name="parent",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="parent_scans",
                to="bags.bag",
            ),
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(_check(ACTIONS, " NOT VALID"), _check(BEFORE)),
                migrations.RunSQL(VALIDATE, migrations.RunSQL.noop),
            ],
            state_operations=[
                migrations.RemoveConstraint(model_name="scan", name="scan_action_valid"),
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
                            ("delete", "Deleted bag"),
                        ],
                        max_length=12,
                    ),
                ),
                migrations.AddConstraint(
                    model_name="scan",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            (
                                "action__in",
                                ["open_parent", "link", "unlink", "undo", "move", "complete", "import", "delete"],
                            )
                        ),
                        name="scan_action_valid",
                    ),
                ),
            ],
        ),
        migrations.RunSQL(APPEND_ONLY, DROP_APPEND_ONLY),
    ]
