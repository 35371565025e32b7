"""A parent's ``child_count`` is kept by the database from its links, and by nothing else.

Statement-level AFTER triggers on bags_link, with transition tables, add up each statement's links per
parent and update every parent touched once: a scan changes one parent, the bulk import of 1.75 million
links about 60,000, each once (a row trigger would update a parent once per link). The count moves in the
statement that writes the links, under the locks the writer already holds (a scan's parent row lock, the
import's locked parents), so it can never disagree with them. UPDATE of a link's parent (a move) is counted
too: out of the old parent, into the new.

Another pair of row triggers refuses any other write of the column: a new bag must start at 0, and an UPDATE
that changes the count is refused unless it comes from the link triggers (pg_trigger_depth() > 1). Their
WHEN clauses keep them out of every write that leaves the count alone.

Existing counts are put right first, safe on a live table: the link triggers are created (from then on,
every link written moves its parent's count), then BATCH parents at a time are locked in id order, as the
scan loop locks them, and recounted from their links in a second statement, which sees every link committed
before the lock; only counts that differ are written. Each batch is its own transaction (the migration is
not atomic), so a scan waits at most one batch. The guard triggers come last.
"""

from django.db import migrations, transaction

BATCH = 5_000

LINK_TRIGGERS = """
CREATE FUNCTION bags_link_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE bags_bag AS parent SET child_count = parent.child_count + added.n, updated_at = now()
        FROM (SELECT parent_id, count(*) AS n FROM new_links GROUP BY parent_id) AS added
        WHERE parent.id = added.parent_id;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE bags_bag AS parent SET child_count = parent.child_count - removed.n, updated_at = now()
        FROM (SELECT parent_id, count(*) AS n FROM old_links GROUP BY parent_id) AS removed
        WHERE parent.id = removed.parent_id;
    ELSE
        UPDATE bags_bag AS parent SET child_count = parent.child_count + moved.n, updated_at = now()
        FROM (
            SELECT parent_id, sum(n) AS n
            FROM (SELECT parent_id, 1 AS n FROM new_links UNION ALL SELECT parent_id, -1 FROM old_links) AS change
            GROUP BY parent_id
            HAVING sum(n) <> 0
        ) AS moved
        WHERE parent.id = moved.parent_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER bags_link_counts_insert AFTER INSERT ON bags_link
REFERENCING NEW TABLE AS new_links FOR EACH STATEMENT EXECUTE FUNCTION bags_link_counts();
CREATE TRIGGER bags_link_counts_delete AFTER DELETE ON bags_link
REFERENCING OLD TABLE AS old_links FOR EACH STATEMENT EXECUTE FUNCTION bags_link_counts();
CREATE TRIGGER bags_link_counts_update AFTER UPDATE ON bags_link
REFERENCING OLD TABLE AS old_links NEW TABLE AS new_links FOR EACH STATEMENT EXECUTE FUNCTION bags_link_counts();
"""
DROP_LINK_TRIGGERS = """
DROP TRIGGER bags_link_counts_insert ON bags_link;
DROP TRIGGER bags_link_counts_delete ON bags_link;
DROP TRIGGER bags_link_counts_update ON bags_link;
DROP FUNCTION bags_link_counts();
"""

PARENT_IDS_SQL = "SELECT min(id), max(id) FROM bags_bag WHERE kind = 'parent'"
LOCK_BATCH_SQL = """
SELECT id FROM bags_bag
WHERE id >= %(start)s AND id < %(stop)s AND kind = 'parent'
ORDER BY id
FOR UPDATE
"""
RECOUNT_BATCH_SQL = """
UPDATE bags_bag AS parent SET child_count = counted.n
FROM (
    SELECT bag.id, count(link.child_id) AS n
    FROM bags_bag AS bag
    LEFT JOIN bags_link AS link ON link.parent_id = bag.id
    WHERE bag.id >= %(start)s AND bag.id < %(stop)s AND bag.kind = 'parent'
    GROUP BY bag.id
) AS counted
WHERE parent.id = counted.id AND parent.child_count <> counted.n
"""

GUARD_TRIGGERS = """
CREATE FUNCTION bags_child_count_from_links() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() > 1 THEN
        RETURN NEW;  -- the link triggers' own update
    END IF;
    RAISE EXCEPTION 'bag %: child_count is kept from its links, never written', NEW.qr_id
        USING ERRCODE = 'check_violation', CONSTRAINT = 'bag_child_count_from_links';
END $$;

CREATE TRIGGER bag_child_count_from_links_insert BEFORE INSERT ON bags_bag
FOR EACH ROW WHEN (NEW.child_count <> 0) EXECUTE FUNCTION bags_child_count_from_links();
CREATE TRIGGER bag_child_count_from_links_update BEFORE UPDATE OF child_count ON bags_bag
FOR EACH ROW WHEN (NEW.child_count IS DISTINCT FROM OLD.child_count) EXECUTE FUNCTION bags_child_count_from_links();
"""
DROP_GUARD_TRIGGERS = """
DROP TRIGGER bag_child_count_from_links_insert ON bags_bag;
DROP TRIGGER bag_child_count_from_links_update ON bags_bag;
DROP FUNCTION bags_child_count_from_links();
"""


def recount(apps, schema_editor) -> None:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute(PARENT_IDS_SQL)
        first, last = cursor.fetchone()
    if first is None:
        return
    for start in range(first, last + 1, BATCH):
        bounds = {"start": start, "stop": start + BATCH}
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(LOCK_BATCH_SQL, bounds)
            cursor.execute(RECOUNT_BATCH_SQL, bounds)


class Migration(migrations.Migration):
    atomic = False  # each step and each batch commits on its own

    dependencies = [("bags", "0012_completed_at_is_a_persons_mark")]

    operations = [
        migrations.RunSQL(LINK_TRIGGERS, DROP_LINK_TRIGGERS),
        migrations.RunPython(recount, migrations.RunPython.noop),
        migrations.RunSQL(GUARD_TRIGGERS, DROP_GUARD_TRIGGERS),
    ]
