"""Writing the audit log: the one way an AuditLog row is made.

The request id (traitortrack.middleware.RequestIdMiddleware) and the anonymisation of IPs and e-mail
addresses (ANONYMIZE_AUDIT_LOGS) happen in ``record``, so that no caller has to remember them.
"""

import ipaddress
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.http import HttpRequest

from audit.choices import AuditAction
from audit.models import AuditLog

_field_limits = {
    name: AuditLog._meta.get_field(name).max_length for name in ("object_repr", "request_id", "ip_address")
}
# Rows per DELETE when purging: each batch is its own short statement, so the log is never locked for long.
PURGE_BATCH_SIZE = 10_000


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
    action: AuditAction,
    obj: models.Model | None = None,
    before: Any = None,
    after: Any = None,
    request: HttpRequest | None = None,
) -> AuditLog:
    """Write one audit entry. Call it before a deletion, while ``obj`` still has its primary key.

    With ANONYMIZE_AUDIT_LOGS on, the client IP is cut to its network and every ``email`` in the
    snapshots is masked before anything is stored. ``action`` must be an AuditAction member: a plain
    string (a typo, or a second naming scheme) is a TypeError, as a refusal code's is (traitortrack.errors).
    """
    if not isinstance(action, AuditAction):
        raise TypeError(f"An audit action comes from audit.choices.AuditAction, not {action!r}.")
    if actor is not None and not actor.is_authenticated:
        actor = None
    meta = request.META if request is not None else {}
    before, after = json_safe(before), json_safe(after)
    ip = client_ip(request) if request is not None else ""
    if settings.ANONYMIZE_AUDIT_LOGS:
        before, after = mask_emails(before), mask_emails(after)
        ip = anonymize_ip(ip)
    request_id = getattr(request, "request_id", None) or meta.get("HTTP_X_REQUEST_ID", "")
    return AuditLog.objects.create(
        actor=actor,
        # A snapshot, so the entry still names the person after a rename or deletion.
        actor_username=actor.get_username() if actor is not None else "",
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=str(obj)[: _field_limits["object_repr"]] if obj is not None else "",
        before=before,
        after=after,
        request_id=request_id[: _field_limits["request_id"]],
        ip_address=ip[: _field_limits["ip_address"]],
    )


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or behind the TLS proxy the address that proxy reports.

    BEHIND_TLS_PROXY is what sets SECURE_PROXY_SSL_HEADER. Of X-Forwarded-For only the last entry is
    taken: it is the one our proxy appended (the peer it saw); anything before it came from the client
    and could be forged.
    """
    if settings.SECURE_PROXY_SSL_HEADER:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").rsplit(",", 1)[-1].strip()
        if _parse_ip(forwarded) is not None:
            return forwarded
    return request.META.get("REMOTE_ADDR", "")


def _parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def anonymize_ip(value: str) -> str:
    """IPv4 with the last octet zeroed (203.0.113.0), IPv6 cut to its /48; "" for what is not an address."""
    address = _parse_ip(value)
    if address is None:
        return ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


def mask_email(value: str) -> str:
    """``jaya@example.com`` as ``j***@example.com``: enough to tell people apart, not to write to them."""
    local, at, domain = value.rpartition("@")
    if not at or not local:
        return "***" if value else value
    return f"{local[0]}***@{domain}"


def mask_emails(value: Any) -> Any:
    """The JSON value with every string under a key named ``email`` masked, at any depth."""
    if isinstance(value, dict):
        return {
            key: mask_email(item) if key.lower() == "email" and isinstance(item, str) else mask_emails(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask_emails(item) for item in value]
    return value


def count_older_than(*, cutoff: datetime) -> int:
    return AuditLog.objects.filter(created_at__lt=cutoff).count()


def purge_older_than(*, cutoff: datetime, batch_size: int = PURGE_BATCH_SIZE) -> int:
    """Delete the entries made before ``cutoff``, a batch per statement, and audit the purge itself.

    Returns how many were deleted. The purge's own entry is new, so a later purge keeps it until it too
    is old enough.
    """
    deleted = 0
    while True:
        batch = AuditLog.objects.filter(created_at__lt=cutoff).values("pk")[:batch_size]
        # No signals or relations point at AuditLog, so this is one DELETE ... WHERE id IN (SELECT ... LIMIT).
        count, _ = AuditLog.objects.filter(pk__in=batch).delete()
        deleted += count
        if count < batch_size:
            break
    record(actor=None, action=AuditAction.AUDIT_PURGE, after={"deleted": deleted, "cutoff": cutoff})
    return deleted
