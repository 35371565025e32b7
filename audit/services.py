"""Writing the audit log: the one way an AuditLog row is made.

Anonymisation (ANONYMIZE_AUDIT_LOGS) and the request-id middleware come with a later issue; both
belong in ``record`` so that no caller has to remember them.
"""

import json
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.http import HttpRequest

from audit.models import AuditLog

_field_limits = {name: AuditLog._meta.get_field(name).max_length for name in ("object_repr", "request_id")}


def json_safe(value: Any) -> Any:
    """The value as plain JSON (Decimal, dates and times become strings), so any snapshot can be stored."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def snapshot(instance: models.Model, *, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """A row's stored values, JSON-safe: what ``before``/``after`` hold. Foreign keys as their ids.

    Only the concrete columns: reading many-to-many relations would cost a query each, and the
    audited models have none that matter (access is by role, not Django groups).
    """
    skipped = set(exclude)
    values = {
        field.name: field.value_from_object(instance)
        for field in instance._meta.concrete_fields
        if field.name not in skipped
    }
    return json_safe(values)


def record(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    action: str,
    obj: models.Model | None = None,
    before: Any = None,
    after: Any = None,
    request: HttpRequest | None = None,
) -> AuditLog:
    """Write one audit entry. Call it before a deletion, while ``obj`` still has its primary key."""
    if actor is not None and not actor.is_authenticated:
        actor = None
    meta = request.META if request is not None else {}
    return AuditLog.objects.create(
        actor=actor,
        # A snapshot, so the entry still names the person after a rename or deletion.
        actor_username=actor.get_username() if actor is not None else "",
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=str(obj)[: _field_limits["object_repr"]] if obj is not None else "",
        before=json_safe(before),
        after=json_safe(after),
        request_id=meta.get("HTTP_X_REQUEST_ID", "")[: _field_limits["request_id"]],
        ip_address=meta.get("REMOTE_ADDR", ""),
    )
