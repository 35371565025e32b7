"""A composite foreign key (bag id, kind): the database refuses a child bag on a bill (see bags 0002)."""

from django.db import migrations

FORWARD = """
ALTER TABLE bills_billbag
    ADD CONSTRAINT billbag_parent_is_parent_bag FOREIGN KEY (parent_bag_id, parent_kind)
        REFERENCES bags_bag (id, kind) ON DELETE RESTRICT;
"""

BACKWARD = "ALTER TABLE bills_billbag DROP CONSTRAINT billbag_parent_is_parent_bag;"


class Migration(migrations.Migration):
    dependencies = [("bills", "0001_initial"), ("bags", "0002_link_kind_foreign_keys")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
