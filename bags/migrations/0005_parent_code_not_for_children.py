"""A child bag's code never matches a product's parent format ("a code is a parent or a child for life").

The scan services classify codes with the parent formats they keep in memory for a few seconds; this
trigger makes the database the judge, so a worker whose formats are a moment old (a product added in
the admin) is refused by the database and decides again, instead of making a parent code a child
forever. A constraint trigger like those of 0004, firing only for children; named so that PostgreSQL
(which fires triggers in name order) reports a change of kind as bag_kind_is_for_life first.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION bags_parent_code_not_for_children() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM bags_product
        WHERE NEW.qr_id ~ ('^' || parent_prefix || '[0-9]{' || parent_digits || '}$')
    ) THEN
        RAISE EXCEPTION 'child bag % has a parent bag''s code', NEW.qr_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'bag_parent_code_not_for_children';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER bag_parent_code_not_for_children
    AFTER INSERT OR UPDATE OF qr_id, kind ON bags_bag
    FOR EACH ROW WHEN (NEW.kind = 'child')
    EXECUTE FUNCTION bags_parent_code_not_for_children();
"""

BACKWARD = """
DROP TRIGGER bag_parent_code_not_for_children ON bags_bag;
DROP FUNCTION bags_parent_code_not_for_children();
"""


class Migration(migrations.Migration):
    dependencies = [("bags", "0004_bag_format_and_kind_triggers")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
