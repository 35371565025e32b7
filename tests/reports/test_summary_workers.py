"""The end-of-day summary's job run by two real workers at once (tests/worker.py): each recipient gets one
mail, and both workers sent some (they raced, sharing the mails out)."""

import email
import os
import time
from datetime import date, datetime
from datetime import time as clock_time
from pathlib import Path

import pytest
from procrastinate.contrib.django.models import ProcrastinateJob, ProcrastinateWorker

from accounts.models import Role
from reports.models import DailySummary, SummaryMail
from reports.tasks import send_daily_summary
from tests import factories
from tests.clock import LOCAL
from tests.worker import JOB_TIMEOUT_SECONDS, running_worker

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

DAY = date(2026, 11, 19)
RECIPIENTS = 8


def wait_until(condition, what: str, workers) -> None:
    deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
    while not condition():
        for worker in workers:
            if worker.poll() is not None:
                raise AssertionError(f"a worker stopped: {worker.stdout.read()}")
        assert time.monotonic() < deadline, f"still not {what} after {JOB_TIMEOUT_SECONDS} s"
        time.sleep(0.1)


def test_two_workers_racing_send_each_mail_once(tmp_path):
    for n in range(RECIPIENTS):
        user = factories.make_user(f"reader{n}", role=Role.BILLER if n % 2 else Role.ADMIN)
        user.email = f"reader{n}@example.com"
        user.save(update_fields=["email"])
    factories.make_bill(factories.make_user("maker", role=Role.BILLER), bill_number="RACE-1", bill_date=DAY)
    mailbox = tmp_path / "mailbox"
    mailbox.mkdir()
    queue = f"summary-race-{os.getpid()}"
    env = {
        "EMAIL_BACKEND": "tests.reports.mailbox.FolderBackend",
        "TEST_MAILBOX": str(mailbox),
        "TEST_MAIL_SECONDS": "0.3",
        "SITE_URL": "https://tt.example",
    }
    tick = int(datetime.combine(date(2026, 11, 20), clock_time(0, 5), tzinfo=LOCAL).timestamp())
    before = set(ProcrastinateWorker.objects.values_list("pk", flat=True))

    with running_worker(queue, **env) as first, running_worker(queue, **env) as second:
        workers = [first, second]
        wait_until(lambda: ProcrastinateWorker.objects.exclude(pk__in=before).count() == 2, "both workers up", workers)
        # Two jobs of the same tick, as two schedulers would defer were procrastinate's own once-per-tick
        # guard (and the task's queueing lock) to fail: the summary's claim must hold alone.
        jobs = [
            send_daily_summary.configure(queue=queue, queueing_lock=f"{queue}-{n}").defer(timestamp=tick)
            for n in range(2)
        ]
        wait_until(
            lambda: not ProcrastinateJob.objects.filter(pk__in=jobs, status__in=["todo", "doing"]).exists(),
            "both jobs done",
            workers,
        )

    assert not ProcrastinateJob.objects.filter(pk__in=jobs).exclude(status="succeeded").exists()
    files = sorted(mailbox.iterdir())
    sent_to = sorted(email.message_from_bytes(path.read_bytes())["To"] for path in files)
    assert sent_to == sorted(f"reader{n}@example.com" for n in range(RECIPIENTS))
    assert len({path.name.split("-")[0] for path in files}) == 2, "both workers sent some: they raced"
    assert DailySummary.objects.get().day == DAY
    assert SummaryMail.objects.filter(sent_at__isnull=False, attempts=1).count() == RECIPIENTS
    body = Path(files[0]).read_text()
    assert "RACE-1" in body and "https://tt.example/reports/exceptions/" in body
