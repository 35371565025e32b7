import pytest

from tests.worker import running_worker


@pytest.fixture(scope="session")
def worker(django_db_setup):
    """One real background worker per test process, on the test database, for the tests that need one."""
    with running_worker() as process:
        yield process
