"""The audit log admin: read-only for everyone, readable by the admin role, searchable and filterable."""

import html

import pytest
from django.urls import reverse

from audit.choices import AuditAction
from audit.models import AuditLog
from audit.services import record
from tests import factories


@pytest.fixture
def entries(admin_user):
    bag = factories.make_parent("SB00001")
    area = factories.make_area("Zone A")
    return {
        "bag": record(
            actor=admin_user,
            action=AuditAction.BAG_CHANGE,
            obj=bag,
            before={"child_count": 0},
            after={"child_count": 1},
        ),
        "area": record(actor=admin_user, action=AuditAction.DISPATCHAREA_CREATE, obj=area, after={"name": "Zone A"}),
    }


def test_audit_entries_cannot_be_added(admin_client, entries):
    response = admin_client.post(reverse("admin:audit_auditlog_add"), {"action": "forged"})

    assert response.status_code == 403
    assert not AuditLog.objects.filter(action="forged").exists()


def test_audit_entries_cannot_be_changed(admin_client, entries):
    entry = entries["bag"]

    response = admin_client.post(reverse("admin:audit_auditlog_change", args=[entry.pk]), {"action": "forged"})

    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.action == AuditAction.BAG_CHANGE


def test_audit_entries_cannot_be_deleted(admin_client, entries):
    entry = entries["bag"]

    response = admin_client.post(reverse("admin:audit_auditlog_delete", args=[entry.pk]), {"post": "yes"})

    assert response.status_code == 403
    assert AuditLog.objects.filter(pk=entry.pk).exists()


def test_an_entry_shows_its_before_and_after(admin_client, entries):
    response = admin_client.get(reverse("admin:audit_auditlog_change", args=[entries["bag"].pk]))

    content = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert '"child_count": 0' in content
    assert '"child_count": 1' in content
    assert 'name="action"' not in content


def test_the_log_filters_by_object_type(admin_client, entries):
    response = admin_client.get(reverse("admin:audit_auditlog_changelist"), {"object_type": "accounts.dispatcharea"})

    assert [entry.pk for entry in response.context["cl"].result_list] == [entries["area"].pk]


def test_the_log_finds_an_object_by_its_id(admin_client, entries):
    bag_entry = entries["bag"]

    response = admin_client.get(reverse("admin:audit_auditlog_changelist"), {"q": bag_entry.object_id})

    assert bag_entry.pk in [entry.pk for entry in response.context["cl"].result_list]
