"""audit.services.record: one row per call, with the actor, object and request snapshotted as text."""

from datetime import UTC, datetime
from decimal import Decimal

from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from accounts.models import Role
from audit.choices import AuditAction
from audit.models import AuditLog
from audit.services import record, snapshot
from tests import factories


def test_record_snapshots_the_actor_the_object_and_the_request(db):
    admin = factories.make_user("auditor", role=Role.ADMIN)
    bag = factories.make_parent("SB00042")
    request = RequestFactory().post("/admin/", HTTP_X_REQUEST_ID="req-123", REMOTE_ADDR="10.1.2.3")

    entry = record(
        actor=admin, action=AuditAction.BAG_CHANGE, obj=bag, before={"a": 1}, after={"a": 2}, request=request
    )

    entry.refresh_from_db()
    assert (entry.actor, entry.actor_username, entry.action) == (admin, "auditor", AuditAction.BAG_CHANGE)
    assert (entry.object_type, entry.object_id, entry.object_repr) == ("bags.bag", str(bag.pk), "SB00042")
    assert (entry.before, entry.after) == ({"a": 1}, {"a": 2})
    # The IP's last octet is dropped: ANONYMIZE_AUDIT_LOGS is on by default.
    assert (entry.request_id, entry.ip_address) == ("req-123", "10.1.2.0")


def test_record_stores_decimals_and_datetimes_as_text(db):
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    entry = record(actor=None, action=AuditAction.USER_LOGIN, before={"weight": Decimal("1.500")}, after={"at": moment})

    entry.refresh_from_db()
    assert entry.before == {"weight": "1.500"}
    assert entry.after == {"at": "2026-01-02T03:04:05Z"}


def test_the_username_survives_a_rename(db):
    admin = factories.make_user("old-name", role=Role.ADMIN)
    entry = record(actor=admin, action=AuditAction.USER_CHANGE, obj=admin)

    admin.username = "new-name"
    admin.save()

    entry.refresh_from_db()
    assert entry.actor_username == "old-name"


def test_an_anonymous_actor_and_no_request_leave_those_fields_empty(db):
    entry = record(actor=AnonymousUser(), action=AuditAction.USER_LOGIN_FAILURE)

    entry.refresh_from_db()
    assert (entry.actor, entry.actor_username) == (None, "")
    assert (entry.object_type, entry.object_id, entry.object_repr) == ("", "", "")
    assert (entry.before, entry.after) == (None, None)
    assert (entry.request_id, entry.ip_address) == ("", "")


def test_an_overlong_request_id_is_cut_to_fit(db):
    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="x" * 100)

    entry = record(actor=None, action=AuditAction.USER_LOGIN, request=request)

    assert entry.request_id == "x" * 64
    assert AuditLog.objects.filter(pk=entry.pk).exists()


def test_snapshot_gives_columns_as_json_with_foreign_keys_as_ids(db):
    bag = factories.make_parent("SB00043")

    values = snapshot(bag, exclude=("updated_at",))

    assert values["qr_id"] == "SB00043"
    assert values["product"] == bag.product_id
    assert isinstance(values["created_at"], str)
    assert "updated_at" not in values
    assert snapshot(bag.product)["child_weight_kg"] == "1.000"


def test_snapshot_leaves_out_excluded_secrets(db):
    user = factories.make_user("secretive")

    assert "password" not in snapshot(user, exclude=("password",))
