"""manage.py purge_audit: old entries go in batches, new ones stay, and the purge leaves its own entry. On a
stopped clock (tests/clock.py): the cutoff is exactly the one asked for."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit import services
from audit.choices import AuditAction
from audit.models import AuditLog
from audit.services import record

pytestmark = pytest.mark.django_db


def _entry(action: str, days_ago: float) -> AuditLog:
    entry = record(actor=None, action=action)
    # created_at is auto_now_add: age it afterwards, as time would.
    AuditLog.objects.filter(pk=entry.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return entry


@pytest.fixture
def log(clock):
    return {
        "old": [_entry(AuditAction.BAG_CHANGE, 400), _entry(AuditAction.BAG_DELETE, 91)],
        "new": [_entry(AuditAction.BAG_CHANGE, 89), _entry(AuditAction.BAG_CREATE, 0)],
    }


def _purge(*args: str) -> str:
    out = StringIO()
    call_command("purge_audit", *args, stdout=out)
    return out.getvalue()


def test_entries_older_than_the_days_go_and_newer_ones_stay(log):
    output = _purge("--older-than", "90")

    assert "Deleted 2 audit entries" in output
    remaining = set(AuditLog.objects.exclude(action=AuditAction.AUDIT_PURGE).values_list("pk", flat=True))
    assert remaining == {entry.pk for entry in log["new"]}


def test_the_purge_is_audited_with_its_count_and_cutoff(log, clock):
    _purge("--older-than", "90")

    entry = AuditLog.objects.get(action=AuditAction.AUDIT_PURGE)
    assert entry.actor is None
    assert entry.after["deleted"] == 2
    cutoff = timezone.datetime.fromisoformat(entry.after["cutoff"])
    assert cutoff == clock.now - timedelta(days=90)


def test_a_dry_run_counts_and_changes_nothing(log):
    count = AuditLog.objects.count()

    output = _purge("--older-than", "90", "--dry-run")

    assert "2 audit entries" in output
    assert "would be deleted" in output
    assert AuditLog.objects.count() == count
    assert not AuditLog.objects.filter(action=AuditAction.AUDIT_PURGE).exists()


@pytest.mark.parametrize("days", ["0", "-5"])
def test_fewer_than_one_day_is_refused(log, days):
    count = AuditLog.objects.count()

    with pytest.raises(CommandError, match="at least 1 day"):
        _purge("--older-than", days)

    assert AuditLog.objects.count() == count


def test_the_days_are_required():
    with pytest.raises(CommandError):
        _purge()


def test_batches_delete_everything_old_whatever_the_batch_size(log):
    extra = [_entry(AuditAction.BILL_CHANGE, 200) for _ in range(5)]

    deleted = services.purge_older_than(cutoff=timezone.now() - timedelta(days=90), batch_size=2)

    assert deleted == 2 + len(extra)
    assert not AuditLog.objects.filter(created_at__lt=timezone.now() - timedelta(days=90)).exists()
    assert AuditLog.objects.filter(pk__in=[entry.pk for entry in log["new"]]).count() == 2
