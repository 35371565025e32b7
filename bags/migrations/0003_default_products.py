"""The two products of the old system. Full-parent weights: mustard 30 x 1.0 = 30 kg, moong 30 x 0.5 = 15 kg."""

from decimal import Decimal

from django.db import migrations

PRODUCTS = [
    {
        "code": "mustard",
        "name": "Mustard",
        "parent_prefix": "SB",
        "parent_digits": 5,
        "capacity": 30,
        "child_weight_kg": Decimal("1.000"),
    },
    {
        "code": "moong",
        "name": "Moong",
        "parent_prefix": "M444-",
        "parent_digits": 5,
        "capacity": 30,
        "child_weight_kg": Decimal("0.500"),
    },
]


def add_products(apps, schema_editor):
    Product = apps.get_model("bags", "Product")
    for fields in PRODUCTS:
        Product.objects.get_or_create(code=fields["code"], defaults=fields)


class Migration(migrations.Migration):
    dependencies = [("bags", "0002_link_kind_foreign_keys")]

    operations = [migrations.RunPython(add_products, migrations.RunPython.noop)]
