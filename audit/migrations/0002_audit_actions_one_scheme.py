"""Audit actions become one enum (audit.choices.AuditAction) with one naming scheme, ``<object>.<verb>``, and
the database refuses any other value.

The stored entries are renamed to the new names, safe on a live log of millions of rows: the log is read in
BATCH-id ranges of its primary key, each range one short UPDATE committed on its own (the migration is not
atomic), so row locks last one batch and the log is written on meanwhile. Only rows with an old name are
written: a second run, or one after a run that stopped half-way, changes nothing more. The table exports'
``<table>.export`` all become ``table.export``: which table was taken out has always been in
``after["table"]``, and the way back rebuilds the old names from it.

The CHECK is added NOT VALID (a moment's lock: it checks only new rows) and validated after that has
committed, by a read of the whole log under a lock that lets entries still be written. Rows written by the
old code between the rename and the CHECK are renamed by a last pass just before it.
"""

from django.db import migrations, models

BATCH = 10_000

RENAMED = {
    "bags.import": "bag.import",
    "bills.import": "bill.import",
    "bags.bulk_load": "bag.bulk_load",
    "bags.export": "table.export",
    "links.export": "table.export",
    "scans.export": "table.export",
    "bills.export": "table.export",
    "audit.export": "table.export",
    "login.success": "user.login",
    "login.failure": "user.login_failure",
    "login.lockout": "user.lockout",
    "logout": "user.logout",
    "otp.enrol": "user.otp_enrol",
    "otp.verify": "user.otp_verify",
    "otp.recovery_code": "user.otp_recovery_code",
    "otp.failure": "user.otp_failure",
}

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
assert all(value.replace(".", "").replace("_", "").isalpha() for value in ACTIONS)  # safe as SQL literals

IDS_SQL = "SELECT min(id), max(id) FROM audit_auditlog"

RENAME_SQL = """
UPDATE audit_auditlog AS entry
SET action = renamed.new
FROM unnest(%(old)s::text[], %(new)s::text[]) AS renamed(old, new)
WHERE entry.id >= %(start)s AND entry.id < %(stop)s AND entry.action = renamed.old
"""

# The way back: table.export takes its table's name again; the others their old names.
UNRENAME_SQL = """
UPDATE audit_auditlog AS entry
SET action = CASE WHEN entry.action = 'table.export' THEN (entry.after ->> 'table') || '.export' ELSE renamed.old END
FROM unnest(%(old)s::text[], %(new)s::text[]) AS renamed(old, new)
WHERE entry.id >= %(start)s AND entry.id < %(stop)s AND entry.action = renamed.new
"""

ADD_CHECK = f"""
ALTER TABLE audit_auditlog
    ADD CONSTRAINT audit_action_known CHECK (action IN ({", ".join(f"'{action}'" for action in ACTIONS)})) NOT VALID
"""
VALIDATE_CHECK = "ALTER TABLE audit_auditlog VALIDATE CONSTRAINT audit_action_known"
DROP_CHECK = "ALTER TABLE audit_auditlog DROP CONSTRAINT audit_action_known"


def _in_batches(schema_editor, statement: str, pairs: dict[str, str], *, first: int = 0) -> int:
    """Run ``statement`` over the ids from ``first`` to the highest now, a BATCH at a time; the next id."""
    params = {"old": list(pairs), "new": list(pairs.values())}
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(IDS_SQL)
        low, high = cursor.fetchone()
        if low is None:
            return first
        for start in range(max(low, first), high + 1, BATCH):
            cursor.execute(statement, {**params, "start": start, "stop": start + BATCH})
    return high + 1


def rename(apps, schema_editor) -> None:
    done = _in_batches(schema_editor, RENAME_SQL, RENAMED)
    # Entries the old code wrote meanwhile (a handful): renamed just before the CHECK goes on.
    _in_batches(schema_editor, RENAME_SQL, RENAMED, first=done)


def unrename(apps, schema_editor) -> None:
    _in_batches(schema_editor, UNRENAME_SQL, RENAMED)


class Migration(migrations.Migration):
    atomic = False  # each batch commits on its own, and the VALIDATE after the NOT VALID CHECK has

    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.RunPython(rename, unrename, elidable=False),
        migrations.AlterField(
            model_name="auditlog", name="action", field=models.CharField(choices=CHOICES, max_length=50)
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(ADD_CHECK, DROP_CHECK),
                migrations.RunSQL(VALIDATE_CHECK, migrations.RunSQL.noop),
            ],
            state_operations=[
                migrations.AddConstraint(
                    model_name="auditlog",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("action__in", ACTIONS)), name="audit_action_known"
                    ),
                )
            ],
        ),
    ]
