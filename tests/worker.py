"""A real background worker (``manage.py procrastinate worker``) on the test database, for the tests of
the import jobs. The jobs run in processes of their own, so the tests using it commit their data
(``transaction=True``)."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.db import connection

from tests import pgbouncer

ROOT = Path(__file__).resolve().parent.parent
JOB_TIMEOUT_SECONDS = 60


def test_database_url() -> str:
    """The test database as a DATABASE_URL, for processes started by a test. From the parameters the
    connection really uses: the embedded server's socket folder is an OPTIONS host, not HOST."""
    params = connection.get_connection_params()
    host = quote(str(params.get("host") or ""), safe="")
    user = quote(str(params.get("user") or ""), safe="")
    port = f":{params['port']}" if params.get("port") else ""
    return f"postgres://{user}@{host}{port}/{quote(params['dbname'], safe='')}"


def worker_env(**extra: str) -> dict[str, str]:
    # Through PgBouncer (--through-pgbouncer) also the settings production has there: the worker itself
    # then connects directly (manage.py), its import jobs' processes too.
    env = {**os.environ, "DATABASE_URL": test_database_url(), **pgbouncer.process_env(), **extra}
    env.pop("REDIS_URL", None)
    return env


@contextmanager
def running_worker(*queues: str, **extra_env: str) -> Iterator[subprocess.Popen]:
    """A worker process (in a session of its own) taking the jobs of ``queues`` (all if none), stopped after."""
    only = ["--queues", ",".join(queues)] if queues else []
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "procrastinate", "worker", "--concurrency", "1", *only],
        cwd=ROOT,
        env=worker_env(**extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        yield worker
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.communicate()


def wait_for(job, *, until=lambda job: job.finished, worker: subprocess.Popen | None = None):
    """The job, reloaded, once ``until(job)`` holds (by default: it is finished)."""
    deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
    while True:
        job.refresh_from_db()
        if until(job):
            return job
        if worker is not None and worker.poll() is not None:
            raise AssertionError(f"the worker stopped: {worker.stdout.read()}")
        waited = f"job {job.pk} is still {job.status} ({job.message}) after {JOB_TIMEOUT_SECONDS} s"
        assert time.monotonic() < deadline, waited
        time.sleep(0.1)
