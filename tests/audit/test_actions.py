"""Audit actions are one enum, AuditAction, in one naming scheme: record() takes nothing else, the database
refuses anything else, and the stored entries of the two old schemes were renamed by a batched migration."""

import re
from importlib import import_module

import pytest
from django.contrib import admin
from django.db import connection
from django.test import RequestFactory

from audit.admin import AuditedAdminMixin
from audit.choices import AuditAction
from audit.models import AuditLog
from audit.services import record
from tests.db import refused_by

renaming = import_module("audit.migrations.0002_audit_actions_one_scheme")

INSERT_ENTRY = """
INSERT INTO audit_auditlog (created_at, actor_username, action, object_type, object_id, object_repr, after,
                            request_id, ip_address)
VALUES (now(), '', %s, '', '', '', %s, '', '')
RETURNING id
"""


def _insert(action: str, after: str | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(INSERT_ENTRY, [action, after])
        return cursor.fetchone()[0]


def test_every_action_is_object_dot_verb_with_a_singular_object():
    for action in AuditAction:
        assert re.fullmatch(r"[a-z]+\.[a-z_]+", action), action
        assert not action.split(".")[0].endswith("s"), f"{action}: the object is singular"


def test_record_refuses_a_plain_string_even_one_that_names_an_action(db):
    with pytest.raises(TypeError, match="AuditAction"):
        record(actor=None, action="bill.create")

    assert not AuditLog.objects.exists()


def test_the_database_refuses_an_action_not_in_the_enum(db):
    with refused_by("audit_action_known", AuditLog):
        _insert("bags.import")  # an old name: the migration renamed every one


def test_every_audited_admin_has_an_action_for_each_change_it_allows(admin_user):
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    audited = set()
    for model_admin in admin.site._registry.values():
        if not isinstance(model_admin, AuditedAdminMixin):
            continue
        # Inline rows are audited by the admin they are shown in (save_formset), under their own model's name.
        for shown in [model_admin, *model_admin.get_inline_instances(request)]:
            extra = () if shown is model_admin else (None,)
            for verb, allowed in [
                ("create", shown.has_add_permission(request, *extra)),
                ("change", shown.has_change_permission(request, *extra)),
                ("delete", shown.has_delete_permission(request, *extra)),
            ]:
                if allowed:
                    model_admin.audit_action(shown.model(), verb, None, None)  # ValueError for a missing member
            audited.add(shown.model._meta.model_name)
    assert audited == {
        "bag",
        "product",
        "link",
        "user",
        "dispatcharea",
        "bill",
        "billbag",
        "returnticket",
        "returnticketbag",
        "printer",
    }


def _drop_check() -> None:
    """The log as before the migration; the test's transaction puts the CHECK back."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE waits for no deferred foreign key check
        cursor.execute(renaming.DROP_CHECK)


def _rename(monkeypatch, function) -> None:
    monkeypatch.setattr(renaming, "BATCH", 2)  # several batches, some with nothing to rename
    with connection.schema_editor(atomic=False) as editor:
        function(None, editor)


def test_the_migration_renames_the_old_names_in_batches_and_can_run_again(db, monkeypatch):
    _drop_check()
    old = {
        _insert("bags.import"): AuditAction.BAG_IMPORT,
        _insert("login.success"): AuditAction.USER_LOGIN,
        _insert("bill.create"): AuditAction.BILL_CREATE,
        _insert("logout"): AuditAction.USER_LOGOUT,
        _insert("otp.recovery_code"): AuditAction.USER_OTP_RECOVERY_CODE,
        _insert("links.export", '{"table": "links"}'): AuditAction.TABLE_EXPORT,
        _insert("audit.export", '{"table": "audit"}'): AuditAction.TABLE_EXPORT,
    }

    _rename(monkeypatch, renaming.rename)
    _rename(monkeypatch, renaming.rename)  # a second run changes nothing more

    assert dict(AuditLog.objects.values_list("pk", "action")) == old
    with connection.cursor() as cursor:
        cursor.execute(renaming.ADD_CHECK)
        cursor.execute(renaming.VALIDATE_CHECK)


def test_the_migration_back_gives_the_old_names_again(db, monkeypatch):
    entries = {
        record(actor=None, action=AuditAction.TABLE_EXPORT, after={"table": "scans"}).pk: "scans.export",
        record(actor=None, action=AuditAction.USER_LOCKOUT).pk: "login.lockout",
        record(actor=None, action=AuditAction.BILL_REOPEN).pk: "bill.reopen",
    }
    _drop_check()

    _rename(monkeypatch, renaming.unrename)

    assert dict(AuditLog.objects.values_list("pk", "action")) == entries


def test_the_database_takes_every_action_of_the_enum(db):
    # The CHECK is a copy in a migration: a member added without a migration replacing it fails here.
    for action in AuditAction:
        _insert(action.value)

    assert AuditLog.objects.count() == len(AuditAction)
