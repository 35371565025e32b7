"""Composite foreign keys (bag id, kind) so the database itself refuses a child used as a parent.

Django has no composite foreign keys, so the link's ForeignKeys are declared with db_constraint=False
and these constraints take their place: they refuse a link to a missing bag as well as one of the
wrong kind, and they stop a linked bag from changing kind.
"""

from django.db import migrations

FORWARD = """
ALTER TABLE bags_link
    ADD CONSTRAINT link_parent_is_parent_bag FOREIGN KEY (parent_id, parent_kind)
        REFERENCES bags_bag (id, kind) ON DELETE RESTRICT,
    ADD CONSTRAINT link_child_is_child_bag FOREIGN KEY (child_id, child_kind)
        REFERENCES bags_bag (id, kind) ON DELETE RESTRICT;
"""

BACKWARD = """
ALTER TABLE bags_link
    DROP CONSTRAINT link_parent_is_parent_bag,
    DROP CONSTRAINT link_child_is_child_bag;
"""


class Migration(migrations.Migration):
    dependencies = [("bags", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
