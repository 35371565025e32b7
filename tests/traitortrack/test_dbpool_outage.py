"""The psycopg pool through a PostgreSQL outage, configured as traitortrack/settings.py configures it: while
the server is away every request is answered (refused) well within the scan page's 10 s, and once it is back
the pool reconnects within about a second, not on psycopg_pool's back-off schedule (1, 3, 7, 15, 31... s).

A PostgreSQL of the test's own (pgserver, in a temporary folder), since this one is stopped and started."""

import os
import signal
import time
import warnings

import psutil
import pytest
from django.conf import settings
from psycopg_pool import ConnectionPool

pytestmark = pytest.mark.embedded

OUTAGE_SECONDS = 8  # past the back-off's attempts at about 1, 3 and 7 s, so the next one is at 15 s
REQUEST_EVERY_SECONDS = 0.2  # a worker's requests keep coming while the database is away
# What the scan page waits for an answer (static/js/scan.js, REQUEST_TIMEOUT_MS) is 10 s; the server's
# refusal must come well before it (issue 20: every scan answered within 2 s during an outage).
ANSWER_WITHIN_SECONDS = 2.0


@pytest.fixture
def own_postgres(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pgserver's lock file outside an XDG runtime folder
        import pgserver

        server = pgserver.get_server(tmp_path / "pgdata", cleanup_mode="delete")
    yield server
    server.cleanup()


def stop(server) -> None:
    """A fast shutdown (SIGINT to the postmaster, as pg_ctl stop -m fast sends), waited for."""
    postmaster = psutil.Process(server.get_pid())
    os.kill(postmaster.pid, signal.SIGINT)
    postmaster.wait(timeout=30)


def try_once(pool: ConnectionPool) -> tuple[bool, float]:
    """One request's use of the pool, as Django's: a connection within the pool's timeout, one statement."""
    started = time.monotonic()
    try:
        with pool.connection() as conn:
            conn.execute("SELECT 1")
    except Exception:  # a broken connection (OperationalError) or none in time (PoolTimeout)
        return False, time.monotonic() - started
    return True, time.monotonic() - started


def test_the_pool_answers_fast_in_an_outage_and_follows_the_database_back(own_postgres):
    options = settings.DATABASES["default"]["OPTIONS"].get("pool")
    if not options:
        pytest.skip("DB_POOL_MAX_SIZE=0: no pool")
    pool = ConnectionPool(own_postgres.get_uri(), kwargs={"autocommit": True}, open=True, **options)
    try:
        pool.wait(timeout=10)
        assert try_once(pool)[0]

        stop(own_postgres)
        outage_ends = time.monotonic() + OUTAGE_SECONDS
        answers = []
        while time.monotonic() < outage_ends:
            answers.append(try_once(pool))
            time.sleep(REQUEST_EVERY_SECONDS)
        own_postgres.ensure_postgres_running()  # returns once the server accepts connections
        back = time.monotonic()
        while not (answer := try_once(pool))[0] and time.monotonic() - back < 30:
            answers.append(answer)
            time.sleep(REQUEST_EVERY_SECONDS)
        recovered_after = time.monotonic() - back
    finally:
        pool.close()

    assert not any(ok for ok, _ in answers), "an answer from a stopped server"
    slowest = max(took for _, took in answers)
    assert slowest < ANSWER_WITHIN_SECONDS, f"a request waited {slowest:.1f} s for a connection"
    assert recovered_after < 2, f"the pool came back {recovered_after:.1f} s after PostgreSQL did"
