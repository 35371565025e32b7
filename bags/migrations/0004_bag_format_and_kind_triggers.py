"""Two bag rules a CHECK cannot hold, because they look at another row or at the old row:

- a parent's code matches its product's format (prefix + exactly N digits);
- a bag's kind never changes ("a code is a parent or a child for life"), linked or not.

Both are constraint triggers that run after the row's CHECK constraints, so a malformed code is refused
by the plainer rule first. The parent trigger fires only for parents (its WHEN clause is evaluated
without calling the function), so loading 1.8 million children pays nothing for it. Product prefixes are restricted to [A-Z0-9-] by
product_prefix_format, none of which is special in a regular expression outside brackets.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION bags_parent_code_matches_product() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    fmt record;
BEGIN
    SELECT parent_prefix, parent_digits INTO fmt FROM bags_product WHERE id = NEW.product_id;
    IF NOT FOUND OR NEW.qr_id !~ ('^' || fmt.parent_prefix || '[0-9]{' || fmt.parent_digits || '}$') THEN
        RAISE EXCEPTION 'parent bag % does not match its product''s code format', NEW.qr_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'bag_parent_code_matches_product';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER bag_parent_code_matches_product
    AFTER INSERT OR UPDATE OF qr_id, product_id, kind ON bags_bag
    FOR EACH ROW WHEN (NEW.kind = 'parent')
    EXECUTE FUNCTION bags_parent_code_matches_product();

CREATE FUNCTION bags_kind_is_for_life() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'bag % is a % and cannot become a %', OLD.qr_id, OLD.kind, NEW.kind
        USING ERRCODE = 'check_violation', CONSTRAINT = 'bag_kind_is_for_life';
END $$;

CREATE CONSTRAINT TRIGGER bag_kind_is_for_life
    AFTER UPDATE OF kind ON bags_bag
    FOR EACH ROW WHEN (OLD.kind IS DISTINCT FROM NEW.kind)
    EXECUTE FUNCTION bags_kind_is_for_life();
"""

BACKWARD = """
DROP TRIGGER bag_kind_is_for_life ON bags_bag;
DROP FUNCTION bags_kind_is_for_life();
DROP TRIGGER bag_parent_code_matches_product ON bags_bag;
DROP FUNCTION bags_parent_code_matches_product();
"""


class Migration(migrations.Migration):
    dependencies = [("bags", "0003_default_products")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
