"""The return ticket actions (``returnticket.*``) join the audit log's known actions.

The CHECK is replaced NOT VALID (a moment's lock: it checks only new rows) and validated after that has
committed, by a read of the log under a lock that lets entries still be written, as 0002 did. The way back
drops the new actions' CHECK for the old one, NOT VALID too: entries of the new actions may exist by then.
"""

from django.db import migrations, models

# AuditAction as of this migration (history: a later member comes with a migration of its own).
CHOICES = [
    ("audit.purge", "Audit log purged"),
    ("bag.create", "Bag created"),
    ("bag.change", "Bag changed"),
    ("bag.delete", "Bag deleted"),
    ("bag.import", "Bags imported"),
    ("bag.bulk_load", "Bags bulk-loaded (demo data)"),
    ("bill.create", "Bill created"),
    ("bill.change", "Bill changed"),
    ("bill.delete", "Bill deleted"),
    ("bill.parent_add", "Parent bag added to bill"),
    ("bill.parent_remove", "Parent bag removed from bill"),
    ("bill.finalise", "Bill finalised"),
    ("bill.reopen", "Bill reopened"),
    ("bill.export", "Bill exported"),
    ("bill.import", "Bills imported"),
    ("billbag.create", "Bill entry created"),
    ("billbag.change", "Bill entry changed"),
    ("billbag.delete", "Bill entry deleted"),
    ("dispatcharea.create", "Dispatch area created"),
    ("dispatcharea.change", "Dispatch area changed"),
    ("dispatcharea.delete", "Dispatch area deleted"),
    ("link.delete", "Child unlinked"),
    ("product.create", "Product created"),
    ("product.change", "Product changed"),
    ("product.delete", "Product deleted"),
    ("promotion.request", "Promotion requested"),
    ("promotion.approve", "Promotion approved"),
    ("promotion.reject", "Promotion rejected"),
    ("returnticket.create", "Return ticket created"),
    ("returnticket.change", "Return ticket changed"),
    ("returnticket.delete", "Return ticket deleted"),
    ("returnticket.parent_add", "Parent bag added to return ticket"),
    ("returnticket.parent_remove", "Parent bag removed from return ticket"),
    ("returnticket.commit", "Return ticket committed"),
    ("returnticket.cancel", "Return ticket cancelled"),
    ("returnticket.export", "Return ticket exported"),
    ("scan.undo", "Scan undone"),
    ("table.export", "Table exported"),
    ("user.create", "User created"),
    ("user.change", "User changed"),
    ("user.delete", "User deleted"),
    ("user.role_change", "Role changed"),
    ("user.password_change", "Password changed"),
    ("user.password_reset", "Password reset"),
    ("user.login", "Logged in"),
    ("user.login_failure", "Login failed"),
    ("user.lockout", "Locked out"),
    ("user.logout", "Logged out"),
    ("user.otp_enrol", "Two-factor app enrolled"),
    ("user.otp_verify", "Two-factor code accepted"),
    ("user.otp_recovery_code", "Recovery code used"),
    ("user.otp_failure", "Two-factor code refused"),
    ("user.otp_reset", "Two-factor devices reset"),
]
ACTIONS = [value for value, _label in CHOICES]
NEW = [
    "returnticket.create",
    "returnticket.change",
    "returnticket.delete",
    "returnticket.parent_add",
    "returnticket.parent_remove",
    "returnticket.commit",
    "returnticket.cancel",
    "returnticket.export",
]
OLD = [action for action in ACTIONS if action not in NEW]


def _check(actions: list[str]) -> str:
    listed = ", ".join(f"'{action}'" for action in actions)
    return f"""
ALTER TABLE audit_auditlog DROP CONSTRAINT audit_action_known;
ALTER TABLE audit_auditlog ADD CONSTRAINT audit_action_known CHECK (action IN ({listed})) NOT VALID
"""


VALIDATE_CHECK = "ALTER TABLE audit_auditlog VALIDATE CONSTRAINT audit_action_known"


class Migration(migrations.Migration):
    atomic = False  # the VALIDATE runs after the NOT VALID CHECK has committed

    dependencies = [("audit", "0002_audit_actions_one_scheme")]

    operations = [
        migrations.AlterField(
            model_name="auditlog", name="action", field=models.CharField(choices=CHOICES, max_length=50)
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(_check(ACTIONS), _check(OLD)),
                migrations.RunSQL(VALIDATE_CHECK, migrations.RunSQL.noop),
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
