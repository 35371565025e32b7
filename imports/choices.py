"""The imports app's choices."""

from django.db import models


class JobStatus(models.TextChoices):
    """Where an import job is. ``refused``: the file could not be an import; ``failed``: the job's process
    stopped (out of memory, killed) or its worker went away; nothing was written in either."""

    QUEUED = "queued", "Waiting for a worker"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    REFUSED = "refused", "Refused"
    FAILED = "failed", "Failed"


FINISHED = (JobStatus.DONE, JobStatus.REFUSED, JobStatus.FAILED)


class ImportSubject(models.TextChoices):
    BAGS = "bags", "Bags and links"
    BILLS = "bills", "Bills"
