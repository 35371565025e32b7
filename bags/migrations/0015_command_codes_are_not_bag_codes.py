"""No bag code and no product's parent prefix starts with the command barcodes' prefix (bags.qr.COMMAND_PREFIX),
so a command read by the scan page can never be taken for a bag.

The bag check is added NOT VALID and validated after that commits: adding a CHECK takes an ACCESS EXCLUSIVE
lock, and validating reads all 2 million bags, which would stop the scans for as long; VALIDATE CONSTRAINT
takes a lock that lets scans go on. The products table is a handful of rows.
"""

from django.db import migrations, models

# The prefix as the migration was written (bags.qr may change later; this migration does not).
PREFIX = "TT-CMD-"

FORWARD = f"ALTER TABLE bags_bag ADD CONSTRAINT bag_qr_id_not_command CHECK (qr_id NOT LIKE '{PREFIX}%') NOT VALID;"
VALIDATE = "ALTER TABLE bags_bag VALIDATE CONSTRAINT bag_qr_id_not_command;"
BACKWARD = "ALTER TABLE bags_bag DROP CONSTRAINT bag_qr_id_not_command;"


class Migration(migrations.Migration):
    atomic = False  # the VALIDATE must run after the NOT VALID constraint has committed

    dependencies = [("bags", "0014_bag_detail_current_bill")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(FORWARD, BACKWARD),
                migrations.RunSQL(VALIDATE, migrations.RunSQL.noop),
            ],
            state_operations=[
                migrations.AddConstraint(
                    model_name="bag",
                    constraint=models.CheckConstraint(
                        condition=~models.Q(qr_id__startswith=PREFIX), name="bag_qr_id_not_command"
                    ),
                ),
            ],
        ),
        migrations.AddConstraint(
            model_name="product",
            constraint=models.CheckConstraint(
                condition=~models.Q(parent_prefix__startswith=PREFIX), name="product_prefix_not_command"
            ),
        ),
    ]
