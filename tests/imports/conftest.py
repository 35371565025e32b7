import pytest

from imports.jobs import QUEUE
from tests.worker import running_worker


@pytest.fixture(scope="session")
def worker(django_db_setup):
    """One real background worker per test process, on the test database, for the tests that need one. It
    takes the app's queue only: tests/imports/test_jobs.py starts workers of its own on queues of their own."""
    with running_worker(QUEUE) as process:
        yield process
