"""The label actions (``label.print``, ``printer.*``) join the audit log's known actions.

The CHECK is replaced NOT VALID and validated after that has committed, as 0003 did; the way back drops the
new actions' CHECK for the old one, NOT VALID too: entries of the new actions may exist by then.
"""

from importlib import import_module

from django.db import migrations, models

# The same CHECK statements as 0003 (a migration module is history: it never changes under us).
previous = import_module("audit.migrations.0003_return_ticket_actions")

# AuditAction as of this migration: 0003's, with the new ones in the enum's alphabetical places.
NEW_CHOICES = [
    ("label.print", "Labels sent to a printer"),
    ("printer.create", "Label printer added"),
    ("printer.change", "Label printer changed"),
    ("printer.delete", "Label printer deleted"),
]
# Where the new actions go among 0003's: before these.
INSERTED_BEFORE = {"link.delete": NEW_CHOICES[:1], "product.create": NEW_CHOICES[1:]}
CHOICES = []
for value, label in previous.CHOICES:
    CHOICES.extend(INSERTED_BEFORE.get(value, []))
    CHOICES.append((value, label))
ACTIONS = [value for value, _label in CHOICES]
NEW = [value for value, _label in NEW_CHOICES]
OLD = [action for action in ACTIONS if action not in NEW]


class Migration(migrations.Migration):
    atomic = False  # the VALIDATE runs after the NOT VALID CHECK has committed

    dependencies = [("audit", "0003_return_ticket_actions")]

    operations = [
        migrations.AlterField(
            model_name="auditlog", name="action", field=models.CharField(choices=CHOICES, max_length=50)
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(previous._check(ACTIONS), previous._check(OLD)),
                migrations.RunSQL(previous.VALIDATE_CHECK, migrations.RunSQL.noop),
            ],
            state_operations=[
                migrations.RemoveConstraint(model_name="auditlog", name="audit_action_known"),
                migrations.AddConstraint(
                    model_name="auditlog",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("action__in", ACTIONS)), name="audit_action_known"
                    ),
                ),
            ],
        ),
    ]
