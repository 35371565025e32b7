"""The label admin: an admin adds a printer (audited, checked), and the printed batches are read only."""

import pytest
from django.urls import reverse

from audit.choices import AuditAction
from audit.models import AuditLog
from labels.models import LabelBatch, Printer

pytestmark = pytest.mark.django_db

PRINTER = {"name": "Bay 5", "host": "10.0.0.55", "port": "9100", "roll": "roll-100x50", "dpi": "300"}


def test_an_admin_adds_a_printer_and_it_is_audited(admin_client):
    answer = admin_client.post(
        reverse("admin:labels_printer_add"), {**PRINTER, "timeout_seconds": "5", "is_active": "on"}
    )

    assert answer.status_code == 302
    printer = Printer.objects.get()
    assert (printer.address, printer.roll, printer.dpi) == ("10.0.0.55:9100", "roll-100x50", 300)
    entry = AuditLog.objects.get(action=AuditAction.PRINTER_CREATE)
    assert entry.after["host"] == "10.0.0.55"


def test_a_printer_with_a_bad_port_or_timeout_is_refused(admin_client):
    answer = admin_client.post(
        reverse("admin:labels_printer_add"), {**PRINTER, "port": "70000", "timeout_seconds": "0"}
    )

    page = answer.content.decode()
    assert answer.status_code == 200 and not Printer.objects.exists()
    assert "Ensure this value is less than or equal to 65535." in page
    assert "Ensure this value is greater than or equal to 1." in page


def test_printed_batches_are_listed_but_never_changed_or_deleted(admin_client, mustard):
    batch = LabelBatch.objects.create(product=mustard, first_number=1, last_number=500, layout="a4-3x8")

    assert admin_client.get(reverse("admin:labels_labelbatch_changelist")).status_code == 200
    assert (
        admin_client.post(reverse("admin:labels_labelbatch_delete", args=[batch.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert LabelBatch.objects.filter(pk=batch.pk).exists()
