"""A parent's story on bills, and returns.

- ``BillEvent``: what happened to a parent on a bill, written by triggers on bills_billbag (one statement-level
  trigger per operation, reading its transition table: a bill import of thousands of parents costs one INSERT
  ... SELECT), so no writer can forget one. Who and when are the transaction's ``traitortrack.actor_id`` and
  ``traitortrack.event_time`` (bills.events.acting), else the row's ``added_by``/``added_at`` or now().
  Events are never updated or deleted (refused, as scan events are).
- A parent returned on a return ticket stays on its finalised bill (``returned_at``, ``returned_on``), its
  snapshot untouched, and may go onto a new bill: the one-bill rule counts entries not returned.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

ACTOR = "NULLIF(current_setting('traitortrack.actor_id', true), '')::bigint"
AT = "NULLIF(current_setting('traitortrack.event_time', true), '')::timestamptz"
TRIGGERS = f"""
CREATE FUNCTION bills_billbag_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO bills_billevent (action, bill_id, bill_number, parent_bag_id, parent_qr, user_id,
                                     return_ticket, created_at)
        SELECT 'added', entry.bill_id, bill.bill_number, entry.parent_bag_id, bag.qr_id,
               COALESCE({ACTOR}, entry.added_by_id), '', COALESCE({AT}, entry.added_at)
        FROM new_entries AS entry
        JOIN bills_bill AS bill ON bill.id = entry.bill_id
        JOIN bags_bag AS bag ON bag.id = entry.parent_bag_id
        ORDER BY entry.id;
    ELSIF TG_OP = 'DELETE' THEN
        -- A bill's deletion deletes its entries first (Django's collector, or the cascade): the bill is still
        -- readable then; a bag deleted in the same statement is not, so its code may be missing.
        INSERT INTO bills_billevent (action, bill_id, bill_number, parent_bag_id, parent_qr, user_id,
                                     return_ticket, created_at)
        SELECT 'removed', entry.bill_id, COALESCE(bill.bill_number, ''), entry.parent_bag_id,
               COALESCE(bag.qr_id, ''), {ACTOR}, '', COALESCE({AT}, now())
        FROM old_entries AS entry
        LEFT JOIN bills_bill AS bill ON bill.id = entry.bill_id
        LEFT JOIN bags_bag AS bag ON bag.id = entry.parent_bag_id
        ORDER BY entry.id;
    ELSE
        INSERT INTO bills_billevent (action, bill_id, bill_number, parent_bag_id, parent_qr, user_id,
                                     return_ticket, created_at)
        SELECT change.action, after.bill_id, bill.bill_number, after.parent_bag_id, bag.qr_id, {ACTOR},
               CASE WHEN change.action = 'returned' THEN after.returned_on ELSE '' END,
               COALESCE({AT}, CASE WHEN change.action = 'returned' THEN after.returned_at END,
                        CASE WHEN change.action = 'finalised' THEN bill.finalised_at END, now())
        FROM old_entries AS before
        JOIN new_entries AS after ON after.id = before.id
        JOIN bills_bill AS bill ON bill.id = after.bill_id
        JOIN bags_bag AS bag ON bag.id = after.parent_bag_id
        CROSS JOIN LATERAL (VALUES
            (CASE WHEN before.frozen_child_count IS NULL AND after.frozen_child_count IS NOT NULL THEN 'finalised' END),
            (CASE WHEN before.frozen_child_count IS NOT NULL AND after.frozen_child_count IS NULL THEN 'reopened' END),
            (CASE WHEN before.returned_at IS NULL AND after.returned_at IS NOT NULL THEN 'returned' END)
        ) AS change (action)
        WHERE change.action IS NOT NULL
        ORDER BY after.id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER bills_billbag_added AFTER INSERT ON bills_billbag
    REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT EXECUTE FUNCTION bills_billbag_events();
CREATE TRIGGER bills_billbag_removed AFTER DELETE ON bills_billbag
    REFERENCING OLD TABLE AS old_entries FOR EACH STATEMENT EXECUTE FUNCTION bills_billbag_events();
CREATE TRIGGER bills_billbag_changed AFTER UPDATE ON bills_billbag
    REFERENCING OLD TABLE AS old_entries NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION bills_billbag_events();

-- An entry never changes bill or parent (it is deleted and made again), so every change is one of the above.
CREATE FUNCTION bills_billbag_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.bill_id <> OLD.bill_id OR NEW.parent_bag_id <> OLD.parent_bag_id THEN
        RAISE EXCEPTION 'a bill entry keeps its bill and parent'
            USING ERRCODE = 'restrict_violation', CONSTRAINT = 'billbag_fixed';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER bills_billbag_fixed BEFORE UPDATE ON bills_billbag
    FOR EACH ROW EXECUTE FUNCTION bills_billbag_fixed();

CREATE FUNCTION bills_billevent_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'bill events are append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation', CONSTRAINT = 'billevent_append_only';
END $$;
CREATE TRIGGER bills_billevent_append_only BEFORE UPDATE OR DELETE ON bills_billevent
    FOR EACH ROW EXECUTE FUNCTION bills_billevent_append_only();
"""  # noqa: S608 (two constant expressions are put in; nothing of a user's)
DROP_TRIGGERS = """
DROP TRIGGER bills_billevent_append_only ON bills_billevent;
DROP FUNCTION bills_billevent_append_only();
DROP TRIGGER bills_billbag_fixed ON bills_billbag;
DROP FUNCTION bills_billbag_fixed();
DROP TRIGGER bills_billbag_changed ON bills_billbag;
DROP TRIGGER bills_billbag_removed ON bills_billbag;
DROP TRIGGER bills_billbag_added ON bills_billbag;
DROP FUNCTION bills_billbag_events();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("bags", "0013_child_count_kept_by_links"),
        ("bills", "0003_bill_product_and_finalise_snapshot"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="BillEvent",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "action",
                    models.CharField(
                        choices=[
                            ("added", "Put on bill"),
                            ("removed", "Taken off bill"),
                            ("finalised", "Bill finalised"),
                            ("reopened", "Bill reopened"),
                            ("returned", "Returned"),
                        ],
                        max_length=10,
                    ),
                ),
                ("bill_number", models.CharField(max_length=50)),
                ("parent_qr", models.CharField(max_length=20)),
                ("return_ticket", models.CharField(blank=True, max_length=20)),
                ("created_at", models.DateTimeField()),
            ],
        ),
        migrations.AddField(
            model_name="billbag",
            name="returned_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="billbag",
            name="returned_on",
            field=models.CharField(db_default="", blank=True, max_length=20, verbose_name="return ticket"),
        ),
        migrations.AlterField(
            model_name="billbag",
            name="parent_bag",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="bill_entries",
                to="bags.bag",
            ),
        ),
        migrations.AddConstraint(
            model_name="billbag",
            constraint=models.UniqueConstraint(
                condition=models.Q(("returned_at__isnull", True)),
                fields=("parent_bag",),
                name="billbag_parent_on_one_bill",
            ),
        ),
        migrations.AddConstraint(
            model_name="billbag",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("returned_at__isnull", True), ("returned_on", "")),
                    models.Q(
                        ("frozen_child_count__isnull", False),
                        ("returned_at__isnull", False),
                        models.Q(("returned_on", ""), _negated=True),
                    ),
                    _connector="OR",
                ),
                name="billbag_returned_from_finalised",
            ),
        ),
        migrations.AddField(
            model_name="billevent",
            name="bill",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="events",
                to="bills.bill",
            ),
        ),
        migrations.AddField(
            model_name="billevent",
            name="parent_bag",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="bill_events",
                to="bags.bag",
            ),
        ),
        migrations.AddField(
            model_name="billevent",
            name="user",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddIndex(
            model_name="billevent",
            index=models.Index(fields=["parent_bag", "created_at"], name="billevent_parent_created_idx"),
        ),
        migrations.AddConstraint(
            model_name="billevent",
            constraint=models.CheckConstraint(
                condition=models.Q(("action__in", ["added", "removed", "finalised", "reopened", "returned"])),
                name="billevent_action_valid",
            ),
        ),
        migrations.RunSQL(TRIGGERS, DROP_TRIGGERS),
    ]
