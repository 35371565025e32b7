import pytest

from imports.jobs import QUEUE
from tests.worker import running_worker


@pytest.fixture(scope="session")
def worker_process(django_db_setup):
    """One real background worker per test process, on the test database. It takes the app's queue only:
    tests/imports/test_jobs.py starts workers of its own on queues of their own."""
    with running_worker(QUEUE) as process:
        yield process


@pytest.fixture
def worker(worker_process):
    """The shared worker, for the tests that need one; a worker that stopped fails the test with its output
    (rather than each job waiting out its time)."""
    if worker_process.poll() is not None:
        pytest.fail(f"the background worker stopped:\n{worker_process.stdout.read()[-3000:]}")
    return worker_process
