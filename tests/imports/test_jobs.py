"""The import jobs through real workers of their own (tests/worker.py), each on a queue of its own: a job's
process dies with its worker, leaving nothing written and no file; its memory is capped and measured."""

import os
import shutil
import signal
import tempfile
from pathlib import Path

import psutil
import pytest
from django.core.files import File
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape

from bags.models import Bag, Link
from imports import jobs
from imports.choices import JobStatus
from imports.models import ImportJob, Upload
from tests.imports.files import link_rows, write_csv, write_parts_xlsx
from tests.imports.test_workbook_limits import BOMBS, PEAK_RSS_MB
from tests.worker import running_worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def queued(admin_user, path: Path, queue_name: str) -> ImportJob:
    with path.open("rb") as source:
        file = SimpleUploadedFile(path.name, source.read())
    upload = jobs.store_upload(file, admin_user)
    return jobs.queue(
        queue_name=queue_name, subject="bags", file_name=path.name, upload=upload, dry_run=False,
        requested_by=admin_user,
    )  # fmt: skip


def files_in(folder: Path) -> list[Path]:
    """The files under ``folder``; not the fork server's socket (multiprocessing's, in a pymp-* folder)."""
    return [path for path in folder.rglob("*") if path.is_file()]


@pytest.fixture
def spool():
    """The worker's TMPDIR: a short path, as a server's is. The fork server's socket is made under it, and a
    socket's path may not pass 107 bytes: under tmp_path in an xdist worker (/tmp/pytest-of-root/pytest-100/
    popen-gw1/test_a_worker_killed_mid_impor0/...) it does, and no job's process could start."""
    folder = Path(tempfile.mkdtemp(prefix="spool-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_worker_killed_mid_import_leaves_nothing_written_and_no_file(admin_client, admin_user, tmp_path, spool):
    # 300,000 links: the import runs for seconds, long enough to be killed in the middle.
    path = write_csv(tmp_path / "links.csv", link_rows(10_000, 30))
    queue_name = f"drill-kill-{os.getpid()}"
    with running_worker(queue_name, TMPDIR=str(spool)) as worker:
        job = queued(admin_user, path, queue_name)
        wait_for(job, until=lambda job: job.status == JobStatus.RUNNING and job.rows_read > 0, worker=worker)
        children = psutil.Process(worker.pid).children(recursive=True)
        assert files_in(spool) == []  # the upload's copy has no name, even while it is read

        os.kill(worker.pid, signal.SIGKILL)
        _gone, alive = psutil.wait_procs(children, timeout=20)

    assert alive == [], f"left running after their worker was killed: {alive}"
    assert (Bag.objects.count(), Link.objects.count()) == (0, 0)
    assert files_in(spool) == []
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING  # as the killed worker left it, until tidy finds it

    assert jobs.tidy(stalled_after=0)["failed"] == 1

    job.refresh_from_db()
    assert (job.status, job.message) == (JobStatus.FAILED, jobs.WORKER_STOPPED)
    assert Upload.objects.count() == 0
    page = admin_client.get(reverse("admin:bags_bag_import_job", args=[job.pk])).content.decode()
    assert "The worker running this import stopped" in page


def test_a_job_over_its_memory_cap_is_stopped_and_the_worker_goes_on(admin_user, tmp_path):
    path = write_csv(tmp_path / "links.csv", link_rows(1, 3))
    queue_name = f"drill-memory-{os.getpid()}"
    with running_worker(queue_name, IMPORT_JOB_MEMORY_MB="64") as worker:
        starved = wait_for(queued(admin_user, path, queue_name), worker=worker)
        assert worker.poll() is None  # the worker itself is not capped and goes on

    assert starved.status == JobStatus.FAILED
    assert starved.message == jobs.OUT_OF_MEMORY.format(limit=64)
    assert Bag.objects.count() == 0


def test_the_job_process_reports_its_peak_memory(admin_user, tmp_path):
    path = write_csv(tmp_path / "links.csv", link_rows(100, 30))
    queue_name = f"drill-measure-{os.getpid()}"
    with running_worker(queue_name) as worker:
        done = wait_for(queued(admin_user, path, queue_name), worker=worker)

    assert done.status == JobStatus.DONE, done.message
    assert Link.objects.count() == 3_000
    assert 20_000 < done.peak_rss_kb < 300_000
    assert done.started_at <= done.finished_at


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize("kind", ["junk_rows", "shared_strings"])
def test_a_bomb_uploaded_in_the_admin_is_refused_by_the_job_in_little_memory(admin_client, tmp_path, kind):
    path = write_parts_xlsx(tmp_path / "bomb.xlsx", **BOMBS[kind]())
    with path.open("rb") as source:
        queued = admin_client.post(reverse("admin:bags_bag_import"), {"import_file": File(source, "bomb.xlsx")})

    job = wait_for(ImportJob.objects.get())

    assert job.status == JobStatus.REFUSED
    assert job.message.startswith("The workbook's ") and "Save it again from Excel" in job.message
    assert job.peak_rss_kb < PEAK_RSS_MB * 1024  # measured in the job's process, by the kernel
    assert escape(job.message) in admin_client.get(queued.url).content.decode()
    assert Upload.objects.count() == 0
