"""The end-of-day summary's claim of a day and its mails, one per recipient (reports/summary.py). New
small tables: no lock on anything in use."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0003_exception_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="DailySummary",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField(unique=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "verbose_name": "daily summary",
                "verbose_name_plural": "daily summaries",
            },
        ),
        migrations.CreateModel(
            name="SummaryMail",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("email", models.EmailField(max_length=254)),
                ("language", models.CharField(max_length=8)),
                ("sent_at", models.DateTimeField(blank=True, null=True)),
                ("attempts", models.PositiveSmallIntegerField(default=0)),
                ("last_error", models.CharField(blank=True, default="", max_length=500)),
                (
                    "recipient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "summary",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="mails", to="reports.dailysummary"
                    ),
                ),
            ],
            options={
                "verbose_name": "daily summary mail",
                "verbose_name_plural": "daily summary mails",
                "indexes": [
                    models.Index(
                        condition=models.Q(("sent_at__isnull", True)), fields=["summary"], name="summarymail_unsent_idx"
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(fields=("summary", "recipient"), name="summarymail_once_per_user")
                ],
            },
        ),
    ]
