"""The one row of exception thresholds, with the model's defaults (the admin changes it, never adds one)."""

from django.db import migrations


def create_row(apps, schema_editor):
    apps.get_model("reports", "ExceptionThresholds").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_exception_thresholds")]

    operations = [migrations.RunPython(create_row, migrations.RunPython.noop)]
