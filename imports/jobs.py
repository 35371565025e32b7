"""Imports as background jobs: an admin's upload is checked and imported by a worker, never by the request.

The request keeps the upload in the database (imports.models.Upload, in chunks) and queues a job in the
same transaction (procrastinate's queue is in our PostgreSQL, so a job exists exactly when its upload
does). A worker (``manage.py procrastinate worker``) takes the job (imports/tasks.py) and runs the import
in a process of its own (forked from a fork server), for two reasons: that process caps its own address
space (IMPORT_JOB_MEMORY_MB), so a file that needs too much memory stops there, not in the worker; and the
kernel tells its peak memory. The process sends its progress and its report up a pipe; the worker
writes them into the job's row, which the admin's job page shows.

Nothing is left behind by a job that dies: the import is one transaction (killed, it is rolled back), the
process reads the upload into an unnamed temporary file (gone with the process), it dies with its worker
(PR_SET_PDEATHSIG), and a job whose worker stopped is failed and its upload deleted by ``tidy`` (a
periodic job).
"""

import ctypes
import dataclasses
import json
import logging
import multiprocessing
import os
import pickle
import resource
import signal
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from imports.choices import ImportSubject, JobStatus
from imports.files import ImportReport, RowIssue
from imports.models import ImportJob, Upload, UploadChunk

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
# An upload whose dry run is not confirmed within this long is deleted (by tidy).
UPLOAD_KEPT = timedelta(days=1)
# How often the worker writes a running job's progress into its row: the job page refreshes every 2 s.
PROGRESS_EVERY_SECONDS = 0.5
# A worker whose heartbeat (every 10 s, procrastinate's default) is older than this is taken for gone.
STALLED_AFTER_SECONDS = 60
PR_SET_PDEATHSIG = 1
RUN_TASK = "imports.run_import_job"
QUEUE = "imports"

WORKER_STOPPED = (
    "The worker running this import stopped (restarted or killed) before it finished; nothing was written. "
    "Upload the file again."
)
WORKER_FAILED = "The worker could not run this import; nothing was written. Try again, or ask an admin."
OUT_OF_MEMORY = (
    "The import needed more than {limit:,} MB of memory and was stopped; nothing was written. Split the file, "
    "or ask an admin to raise IMPORT_JOB_MEMORY_MB."
)
UPLOAD_GONE = (
    "This upload is no longer kept: it was imported already, or it waited more than a day for its "
    "confirmation. Upload the file again."
)


def report_as_dict(report: ImportReport) -> dict[str, Any]:
    data = dataclasses.asdict(report)
    data["created"] = list(report.created.items())  # jsonb keeps no key order; the report's sentence does
    return data


def report_from_dict(data: dict[str, Any]) -> ImportReport:
    fields = {field.name for field in dataclasses.fields(ImportReport)}
    values = {name: value for name, value in data.items() if name in fields}
    values["issues"] = [RowIssue(**issue) for issue in data.get("issues", [])]
    values["created"] = dict(data.get("created", []))
    return ImportReport(**values)


def confirmable(report: ImportReport) -> bool:
    """A dry run whose import may go ahead: good rows, and no bad row unless only the good ones go."""
    return report.dry_run and report.good_rows > 0 and not (report.error_count and not report.skip_invalid)


# --- The request's side


def store_upload(file: UploadedFile, user: User) -> Upload:
    """Keep the uploaded file in the database, a chunk at a time (Django has spooled a big one to disk)."""
    upload = Upload.objects.create(file_name=Path(file.name).name[:255], size=file.size, uploaded_by=user)
    for number, data in enumerate(file.chunks(CHUNK_BYTES)):
        UploadChunk.objects.create(upload=upload, number=number, data=data)
    return upload


def queue(*, queue_name: str = QUEUE, **fields: Any) -> ImportJob:
    """A new job, queued in the caller's transaction: committed together, or neither. ``queue_name``: the
    workers started with ``--queues NAME`` take it (all workers by default)."""
    from imports.tasks import run_import_job

    job = ImportJob.objects.create(**fields)
    job.procrastinate_job_id = run_import_job.configure(queue=queue_name).defer(job_id=job.pk)
    job.save(update_fields=["procrastinate_job_id"])
    return job


def queue_dry_run(file: UploadedFile, *, subject: str, user: User, skip_invalid: bool, default_area=None) -> ImportJob:
    with transaction.atomic():
        upload = store_upload(file, user)
        return queue(
            subject=subject,
            file_name=upload.file_name,
            upload=upload,
            dry_run=True,
            skip_invalid=skip_invalid,
            default_area=default_area,
            requested_by=user,
        )


def queue_import(dry_run: ImportJob, user: User) -> ImportJob:
    """The import a dry run's Confirm asks for; the one already queued if Confirm was pressed before.
    Refused (ValueError, with the sentence) when the dry run cannot be confirmed or its upload is gone."""
    with transaction.atomic():
        dry_run = ImportJob.objects.select_for_update().get(pk=dry_run.pk)
        existing = ImportJob.objects.filter(confirms=dry_run).first()
        if existing is not None:
            return existing
        if dry_run.status != JobStatus.DONE or not confirmable(report_from_dict(dry_run.report)):
            raise ValueError("This dry run cannot be confirmed: upload the file again.")
        if dry_run.upload_id is None:
            raise ValueError(UPLOAD_GONE)
        return queue(
            subject=dry_run.subject,
            file_name=dry_run.file_name,
            upload_id=dry_run.upload_id,
            dry_run=False,
            skip_invalid=dry_run.skip_invalid,
            default_area_id=dry_run.default_area_id,
            confirms=dry_run,
            requested_by=user,
        )


# --- The worker's side


def run(job_id: int) -> None:
    """Run a queued job in a process of its own and keep its row up to date until that process ends."""
    started = ImportJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, started_at=timezone.now()
    )
    if not started:  # failed by tidy meanwhile, or run already
        return
    try:
        receiver, sender = _processes().Pipe(duplex=False)
        process = _processes().Process(
            target=_job_process, args=(job_id, sender, os.getpid()), name=f"import job {job_id}", daemon=False
        )
        process.start()
        sender.close()  # the job's process holds the other end: EOF when it ends, however it ends
        outcome = _follow(job_id, receiver)
        process.join()
    except Exception:
        # The worker's own side failed (the database went away, no process could start): the job's row
        # must not say "running" for ever. The import's transaction, if any, is rolled back with its process.
        logger.exception("import job %s: the worker could not run it", job_id)
        _finish(job_id, {"failed": WORKER_FAILED}, 1)
        raise
    _finish(job_id, outcome, process.exitcode)


def _processes():
    """multiprocessing's fork server, with Django set up once in it (imports/job_server.py): a job's process
    is forked from it in a few milliseconds, from a process with one thread and no database connection,
    where starting a new interpreter and Django would take seconds."""
    global _context
    if _context is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["imports.job_server"])
        _context = context
    return _context


_context = None


def _follow(job_id: int, messages) -> dict[str, Any]:
    """Write the process's progress into the job's row (at most every PROGRESS_EVERY_SECONDS); its last
    message (the report, a refusal or a failure), once the pipe closes."""
    last: dict[str, Any] = {}
    written = 0.0
    while True:
        try:
            message = messages.recv()
        except EOFError:
            return last
        if "progress" not in message:
            last = message
            continue
        now = time.monotonic()
        if now - written >= PROGRESS_EVERY_SECONDS:
            progress = message["progress"]
            ImportJob.objects.filter(pk=job_id).update(
                phase=progress["phase"][:40], rows_read=progress["rows"], errors_so_far=progress["errors"]
            )
            written = now


def _finish(job_id: int, outcome: dict[str, Any], returncode: int) -> None:
    fields: dict[str, Any] = {"finished_at": timezone.now(), "peak_rss_kb": outcome.get("peak_rss_kb")}
    if "report" in outcome:
        report = report_from_dict(outcome["report"])
        fields |= {
            "status": JobStatus.DONE,
            "report": outcome["report"],
            "rows_read": report.rows,
            "errors_so_far": report.error_count,
            "phase": "done",
        }
    elif "refused" in outcome:
        fields |= {"status": JobStatus.REFUSED, "message": outcome["refused"], "phase": "refused"}
    else:
        fields |= {"status": JobStatus.FAILED, "message": outcome.get("failed") or _stopped(returncode)}
        fields["phase"] = "failed"
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        for name, value in fields.items():
            setattr(job, name, value)
        job.save(update_fields=list(fields))
        # The upload is kept only for the Confirm of a dry run that may go ahead.
        keep = fields["status"] == JobStatus.DONE and confirmable(report_from_dict(job.report))
        if not keep and job.upload_id is not None:
            Upload.objects.filter(pk=job.upload_id).delete()
    logger.info("import job %s: %s, peak memory %s KiB", job_id, fields["status"], fields["peak_rss_kb"])


def _stopped(returncode: int) -> str:
    if returncode < 0:
        how = f"was stopped by signal {signal.Signals(-returncode).name}"
    else:
        how = f"ended with exit code {returncode}"
    return f"The import's process {how} before it finished; nothing was written. Try again, or ask an admin."


def tidy(*, stalled_after: float = STALLED_AFTER_SECONDS) -> dict[str, int]:
    """Fail the jobs whose worker stopped (and delete their uploads); delete uploads left unconfirmed for
    more than UPLOAD_KEPT. Run every minute by the queue (imports/tasks.py)."""
    from procrastinate.contrib.django import app
    from procrastinate.jobs import Status

    stalled = async_to_sync(app.job_manager.get_stalled_jobs)(task_name=RUN_TASK, seconds_since_heartbeat=stalled_after)
    failed = 0
    for stuck in stalled:
        # Read through Django's connection, whose jsonb loader leaves the text for JSONField to decode.
        kwargs = json.loads(stuck.task_kwargs) if isinstance(stuck.task_kwargs, str) else stuck.task_kwargs
        with transaction.atomic():
            job = ImportJob.objects.select_for_update().filter(pk=kwargs.get("job_id")).first()
            if job is not None and not job.finished:
                job.status, job.message, job.phase = JobStatus.FAILED, WORKER_STOPPED, "failed"
                job.finished_at = timezone.now()
                job.save(update_fields=["status", "message", "phase", "finished_at"])
                if job.upload_id is not None:
                    Upload.objects.filter(pk=job.upload_id).delete()
                failed += 1
        async_to_sync(app.job_manager.finish_job)(stuck, status=Status.FAILED, delete_job=False)
    unconfirmed = Upload.objects.filter(uploaded_at__lt=timezone.now() - UPLOAD_KEPT).exclude(
        jobs__status__in=(JobStatus.QUEUED, JobStatus.RUNNING)
    )
    forgotten = unconfirmed.delete()[1].get("imports.Upload", 0)
    return {"failed": failed, "uploads_deleted": forgotten}


# --- The job's process (manage.py run_import_job)


class PipeProgress:
    """The import services' Progress, sent up the pipe (the worker throttles its writes to the row)."""

    def __init__(self, out) -> None:
        self.out = out
        self.phase = "reading"
        self.rows = 0
        self.report: ImportReport | None = None
        self.sent = 0.0

    def start(self, total_rows: int, report: ImportReport | None = None) -> None:
        self.report = report
        self.send(force=True)

    def advance(self, phase: str, rows: int) -> None:
        force = phase != self.phase
        self.phase = phase
        self.rows += rows
        self.send(force=force)

    def send(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.sent >= PROGRESS_EVERY_SECONDS / 2:
            rows, errors = (self.report.rows, self.report.error_count) if self.report else (self.rows, 0)
            self.out.send({"progress": {"phase": self.phase, "rows": rows, "errors": errors}})
            self.sent = now


def _job_process(job_id: int, out, worker: int) -> None:
    """A job's process (forked from the fork server): cap its address space, die with the worker that
    started it, run the import, and send the outcome with the process's peak memory (from the kernel)."""
    # The fork server is the parent and goes when the worker goes; the job goes with it.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if not _alive(worker):
        os._exit(1)
    # Made before the cap: once memory has run out, nothing new may be allocated to say so.
    out_of_memory = pickle.dumps({"failed": OUT_OF_MEMORY.format(limit=settings.IMPORT_JOB_MEMORY_MB)})
    limit = settings.IMPORT_JOB_MEMORY_MB * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        outcome = _import(job_id, out)
    except MemoryError:
        out.send_bytes(out_of_memory)
        os._exit(1)
    out.send({**outcome, "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss})
    out.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _import(job_id: int, out) -> dict[str, Any]:
    """The import itself: the upload copied to an unnamed temporary file, the service run over it; its
    report, or its refusal."""
    from imports.bag_import import import_bags
    from imports.bill_import import import_bills
    from traitortrack.errors import Refused

    job = ImportJob.objects.select_related("requested_by", "default_area").get(pk=job_id)
    chunks = UploadChunk.objects.filter(upload_id=job.upload_id)
    numbers = list(chunks.order_by("number").values_list("number", flat=True)) if job.upload_id else []
    if not numbers:
        return {"refused": UPLOAD_GONE}
    with tempfile.TemporaryFile() as source:
        for number in numbers:
            source.write(chunks.values_list("data", flat=True).get(number=number))
        source.seek(0)
        options: dict[str, Any] = {
            "source": source,
            "file_name": job.file_name,
            "user": job.requested_by,
            "dry_run": job.dry_run,
            "skip_invalid": job.skip_invalid,
            "progress": PipeProgress(out),
        }
        try:
            if job.subject == ImportSubject.BAGS:
                report = import_bags(**options, default_area=job.default_area)
            else:
                report = import_bills(**options)
        except Refused as refusal:
            return {"refused": refusal.message}
    return {"report": report_as_dict(report)}
