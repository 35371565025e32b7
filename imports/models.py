"""An admin's upload and the background jobs that check and import it (imports/jobs.py).

The upload is kept in the database, not in a folder: every worker on every machine reads it from where
the queue is, and a job or worker that dies leaves no file behind. It is kept in chunks, so neither the
request that stores it nor the job that reads it holds the whole file in memory.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from imports.choices import FINISHED, ImportSubject, JobStatus


class Upload(models.Model):
    """A file uploaded for import: kept from the upload until its import ran (or a day, unconfirmed)."""

    file_name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return self.file_name


class UploadChunk(models.Model):
    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["upload", "number"], name="imports_chunk_once")]

    def __str__(self) -> str:
        return f"chunk {self.number} of upload {self.upload_id}"


class ImportJob(models.Model):
    """One run of an import over an upload: the dry run (``dry_run``) and, once confirmed, the import."""

    subject = models.CharField(max_length=5, choices=ImportSubject.choices)
    file_name = models.CharField(max_length=255)
    upload = models.ForeignKey(Upload, on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs")
    dry_run = models.BooleanField()
    skip_invalid = models.BooleanField(default=False)
    default_area = models.ForeignKey(
        "accounts.DispatchArea", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The dry run this import confirms: one import per dry run, however often Confirm is pressed.
    confirms = models.OneToOneField(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="confirmation"
    )
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=7, choices=JobStatus.choices, default=JobStatus.QUEUED)
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    phase = models.CharField(max_length=40, blank=True)
    rows_read = models.PositiveIntegerField(default=0)
    errors_so_far = models.PositiveIntegerField(default=0)
    # ImportReport.as_dict() when done; the refusal's sentence when refused or failed.
    report = models.JSONField(null=True, blank=True)
    message = models.TextField(blank=True)
    # The job process's peak resident memory, from the kernel (wait4), in KiB.
    peak_rss_kb = models.PositiveBigIntegerField(null=True, blank=True)
    procrastinate_job_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")
        ordering = ["-queued_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(confirms__isnull=True) | Q(dry_run=False), name="imports_confirm_imports"
            ),
            models.CheckConstraint(condition=~Q(confirms=F("id")), name="imports_confirm_not_itself"),
        ]

    def __str__(self) -> str:
        return f"{'Dry run' if self.dry_run else 'Import'} of {self.file_name}"

    @property
    def finished(self) -> bool:
        return self.status in FINISHED
