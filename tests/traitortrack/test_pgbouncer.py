"""Through PgBouncer in transaction pooling (tests/pgbouncer.py): what breaks there without the settings of
traitortrack.settings.through_transaction_pooler, and what the app uses instead (SET LOCAL, transaction-level
advisory locks, Django's time zone) holding.

Each test sees a server connection change hands the way it does under load: client A leaves something on a
server connection, client B begins a transaction (PgBouncer hands out the server connection released last,
A's), and A's next statement runs on another one. The tests run in every suite, with or without
--through-pgbouncer.
"""

import os
import subprocess
import sys

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from tests import pgbouncer, worker
from tests.caches import free_port
from traitortrack.settings import through_transaction_pooler


@pytest.fixture(scope="module")
def bouncer(django_db_setup):
    """A PgBouncer of these tests' own, so that no other client (the app's pool) takes a server connection
    between two of their steps; in front of the server the run uses (directly, or behind its PgBouncer)."""
    if not pgbouncer.PGBOUNCER.exists():
        missing = f"{pgbouncer.PGBOUNCER} is missing (apt-get install pgbouncer)"
        if os.environ.get("CI"):
            pytest.fail(missing)  # .ci/run installs it: its absence is a broken CI, not a skip
        pytest.skip(missing)
    server = pgbouncer.running.server if pgbouncer.running else pgbouncer.server_of(connection)
    with pgbouncer.PgBouncer(server, pool_size=4) as bouncer:
        yield bouncer


@pytest.fixture
def connect(bouncer, db):
    """Client connections to the test database through PgBouncer (psycopg's own, in autocommit unless told)."""
    opened = []

    def client(**options) -> psycopg.Connection:
        options.setdefault("autocommit", True)
        conn = psycopg.connect(bouncer.url(connection.settings_dict["NAME"]), **options)
        opened.append(conn)
        return conn

    yield client
    for conn in opened:
        conn.close()


def another_client_takes_the_server_connection(client: psycopg.Connection) -> None:
    """``client`` begins a transaction and keeps it open: it holds the server connection released last."""
    client.execute("BEGIN")
    client.execute("SELECT 1")


def test_the_run_goes_through_pgbouncer_when_asked(request):
    if not request.config.getoption("through_pgbouncer"):
        pytest.skip("without --through-pgbouncer the tests connect directly")
    assert connection.settings_dict["PORT"] == str(pgbouncer.running.port)
    assert connection.settings_dict["DISABLE_SERVER_SIDE_CURSORS"] is True


def test_the_pooler_settings_turn_off_server_side_cursors_and_prepared_statements():
    database = {"OPTIONS": {"pool": {"max_size": 10}}}
    through_transaction_pooler(database)

    assert database == {
        "DISABLE_SERVER_SIDE_CURSORS": True,
        "OPTIONS": {"pool": {"max_size": 10}, "prepare_threshold": None},
    }


def test_the_default_settings_are_left_as_they_were(request):
    if request.config.getoption("through_pgbouncer"):
        pytest.skip("through PgBouncer the default connection has the pooler's settings")
    assert settings.DATABASE_POOLER == ""
    assert settings.DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] is False  # Django's default
    assert "prepare_threshold" not in settings.DATABASES["default"].get("OPTIONS", {})


def test_a_prepared_statement_is_missing_on_the_next_server_connection(connect):
    prepared = connect(prepare_threshold=0)  # psycopg prepares every statement: what the setting prevents
    prepared.execute("SELECT 42")
    other = connect()
    another_client_takes_the_server_connection(other)

    try:
        with pytest.raises(psycopg.errors.InvalidSqlStatementName, match="does not exist"):
            prepared.execute("SELECT 42")
    finally:
        other.execute("DEALLOCATE ALL")  # left on the server connection the other client holds


def test_statements_never_prepared_run_on_any_server_connection(connect):
    plain = connect(prepare_threshold=None)  # the setting
    for _ in range(5):
        plain.execute("SELECT 42")

    another_client_takes_the_server_connection(connect())

    assert plain.execute("SELECT 42").fetchone() == (42,)


def test_a_cursor_held_past_its_transaction_is_missing_on_the_next_server_connection(connect):
    # What QuerySet.iterator() declares in autocommit unless DISABLE_SERVER_SIDE_CURSORS is on.
    client = connect()
    cursor = client.cursor("_django_curs_1", withhold=True)
    cursor.execute("SELECT generate_series(1, 10)")
    assert len(cursor.fetchmany(2)) == 2
    other = connect()
    another_client_takes_the_server_connection(other)

    try:
        with pytest.raises(psycopg.errors.InvalidCursorName):
            cursor.fetchmany(2)
    finally:
        other.execute('CLOSE "_django_curs_1"')


def test_a_cursor_inside_its_transaction_stays_on_its_server_connection(connect):
    # The exports' (exports/tables.py): declared and read to the end inside one transaction.
    client = connect(autocommit=False)
    with client.transaction():
        cursor = client.cursor("_django_curs_1")
        cursor.execute("SELECT generate_series(1, 10)")
        first = cursor.fetchmany(2)
        another_client_takes_the_server_connection(connect())
        rest = cursor.fetchall()

    assert [n for (n,) in first + rest] == list(range(1, 11))


def test_a_session_setting_is_left_to_the_next_client_of_its_server_connection(connect):
    connect().execute("SET statement_timeout = '4321ms'")
    other = connect()
    another_client_takes_the_server_connection(other)

    try:
        assert other.execute("SHOW statement_timeout").fetchone() == ("4321ms",)  # it never asked for it
    finally:
        other.execute("RESET statement_timeout")
        other.execute("COMMIT")


def test_set_local_lasts_its_transaction_and_leaves_nothing_behind(connect):
    careful = connect(autocommit=False)
    with careful.transaction():
        careful.execute("SET LOCAL statement_timeout = '1234ms'")  # as bags/selectors.py's set_config(..., true)
        another_client_takes_the_server_connection(connect())
        assert careful.execute("SHOW statement_timeout").fetchone() == ("1234ms",)
    other = connect()
    another_client_takes_the_server_connection(other)  # the careful one's server connection, released last

    assert other.execute("SHOW statement_timeout").fetchone() != ("1234ms",)


def test_a_transaction_level_advisory_lock_holds_until_its_transaction_ends(connect):
    holder, other = connect(autocommit=False), connect()
    with holder.transaction():
        holder.execute("SELECT pg_advisory_xact_lock(20)")  # as labels/services.py and returns/services.py
        assert other.execute("SELECT pg_try_advisory_xact_lock(20)").fetchone() == (False,)

    assert other.execute("SELECT pg_try_advisory_xact_lock(20)").fetchone() == (True,)


def test_a_session_advisory_lock_is_left_to_whoever_gets_its_server_connection(connect):
    holder = connect()
    holder.execute("SELECT pg_advisory_lock(21)")
    other = connect()
    another_client_takes_the_server_connection(other)

    # The other client "takes" the lock it should wait for: its server session is the one holding it.
    assert other.execute("SELECT pg_try_advisory_lock(21)").fetchone() == (True,)
    other.execute("SELECT pg_advisory_unlock_all()")


def test_the_time_zone_django_sets_follows_its_client_to_every_server_connection(connect):
    # Django sets the connection's time zone once, outside a transaction (SET TIME ZONE), when the server's
    # differs from its own; PgBouncer tracks TimeZone per client and sets it again on each server connection.
    lima = connect()
    lima.execute("SET TIME ZONE 'America/Lima'")
    other = connect()
    another_client_takes_the_server_connection(other)

    assert lima.execute("SHOW TimeZone").fetchone() == ("America/Lima",)
    assert other.execute("SHOW TimeZone").fetchone() != ("America/Lima",)


def test_migrate_connects_to_postgresql_itself_and_other_commands_through_the_pooler(db):
    # Behind PgBouncer (DATABASE_POOLER=pgbouncer) manage.py gives the worker and migrate DATABASE_DIRECT_URL.
    # Here DATABASE_URL leads nowhere, so only a command that took the direct URL reaches the test database.
    direct = pgbouncer.running.direct_url if pgbouncer.running else worker.test_database_url()
    nowhere = f"postgres://postgres@127.0.0.1:{free_port()}/nowhere"
    env = {**os.environ, "DATABASE_POOLER": "pgbouncer", "DATABASE_URL": nowhere, "DATABASE_DIRECT_URL": direct}

    def manage(*args: str) -> subprocess.CompletedProcess:
        argv = [sys.executable, "manage.py", *args]
        return subprocess.run(argv, cwd=worker.ROOT, env=env, capture_output=True, text=True)

    migrate = manage("migrate", "--check")
    assert migrate.returncode == 0, migrate.stderr
    check = manage("check", "--database", "default")
    assert check.returncode != 0
    assert "nowhere" in check.stderr or "Connection refused" in check.stderr
