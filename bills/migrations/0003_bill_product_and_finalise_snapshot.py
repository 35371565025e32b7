"""A bill names the product its expected weight is computed from, and a finalised bill keeps a snapshot.

Existing bills (none in production yet) get the first product; the column is made required after. A bill
that is already finalised gets its snapshot taken here, as finalising would have.
"""

import django.contrib.postgres.fields
import django.db.models.deletion
from django.db import migrations, models


def fill_products(apps, schema_editor):
    Bill = apps.get_model("bills", "Bill")
    Product = apps.get_model("bags", "Product")
    if not Bill.objects.filter(product__isnull=True).exists():
        return
    first = Product.objects.order_by("pk").first()
    if first is None:
        raise RuntimeError("Bills exist but no product does: add a product before migrating.")
    Bill.objects.filter(product__isnull=True).update(product=first)
    # Check the deferred foreign key now: ALTER TABLE refuses to run with trigger events pending.
    schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def snapshot_finalised(apps, schema_editor):
    Bill = apps.get_model("bills", "Bill")
    BillBag = apps.get_model("bills", "BillBag")
    Link = apps.get_model("bags", "Link")
    for bill in Bill.objects.filter(status="finalised", frozen_full_parent_weight_kg__isnull=True).select_related(
        "product"
    ):
        # The rule of bags.models.Product.full_parent_weight_kg (historical models have no properties).
        bill.frozen_full_parent_weight_kg = bill.product.capacity * bill.product.child_weight_kg
        bill.save(update_fields=["frozen_full_parent_weight_kg"])
        for entry in BillBag.objects.filter(bill=bill).select_related("parent_bag__product"):
            bag = entry.parent_bag
            entry.frozen_child_count = bag.child_count
            entry.frozen_capacity = bag.product.capacity
            entry.frozen_child_weight_kg = bag.product.child_weight_kg
            entry.frozen_child_codes = list(
                Link.objects.filter(parent=bag).order_by("created_at", "pk").values_list("child__qr_id", flat=True)
            )
            entry.save(
                update_fields=["frozen_child_count", "frozen_capacity", "frozen_child_weight_kg", "frozen_child_codes"]
            )
    schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):
    dependencies = [
        ("bills", "0002_billbag_kind_foreign_key"),
        ("bags", "0003_default_products"),
    ]

    operations = [
        migrations.AddField(
            model_name="bill",
            name="product",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.PROTECT, related_name="bills", to="bags.product"
            ),
        ),
        migrations.RunPython(fill_products, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="bill",
            name="product",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="bills", to="bags.product"
            ),
        ),
        migrations.AddField(
            model_name="bill",
            name="frozen_full_parent_weight_kg",
            field=models.DecimalField(blank=True, decimal_places=3, max_digits=12, null=True),
        ),
        migrations.AddField(
            model_name="billbag",
            name="frozen_child_count",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="billbag",
            name="frozen_capacity",
            field=models.PositiveSmallIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="billbag",
            name="frozen_child_weight_kg",
            field=models.DecimalField(blank=True, decimal_places=3, max_digits=8, null=True),
        ),
        migrations.AddField(
            model_name="billbag",
            name="frozen_child_codes",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(max_length=20), blank=True, null=True, size=None
            ),
        ),
        migrations.RunPython(snapshot_finalised, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="bill",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("frozen_full_parent_weight_kg__isnull", False), ("status", "finalised")),
                    models.Q(
                        models.Q(("status", "finalised"), _negated=True), ("frozen_full_parent_weight_kg__isnull", True)
                    ),
                    _connector="OR",
                ),
                name="bill_snapshot_when_finalised",
            ),
        ),
        migrations.AddConstraint(
            model_name="billbag",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("frozen_capacity__isnull", True),
                        ("frozen_child_codes__isnull", True),
                        ("frozen_child_count__isnull", True),
                        ("frozen_child_weight_kg__isnull", True),
                    ),
                    models.Q(
                        ("frozen_capacity__isnull", False),
                        ("frozen_child_codes__isnull", False),
                        ("frozen_child_count__isnull", False),
                        ("frozen_child_weight_kg__isnull", False),
                    ),
                    _connector="OR",
                ),
                name="billbag_snapshot_whole_or_none",
            ),
        ),
    ]
