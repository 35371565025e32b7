"""Indexes built concurrently by migrations (traitortrack/indexes.py): a failed build's INVALID leftover is
dropped before the next try, so the index is built instead of skipped by IF NOT EXISTS."""

import psycopg
import pytest
from django.db import connection

from traitortrack.indexes import DROP_INVALID

pytestmark = pytest.mark.django_db  # the probe table is made on a connection of its own, in autocommit

BUILT_CONCURRENTLY = ["bag_parent_code_idx", "scan_child_taken_out_idx", "scanreply_refused_idx"]


def test_the_migrations_indexes_are_there_and_valid():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = ANY(%s) ORDER BY 1",
            [BUILT_CONCURRENTLY],
        )
        assert cursor.fetchall() == [(name, True) for name in BUILT_CONCURRENTLY]


def test_an_invalid_index_left_by_a_failed_build_is_dropped_and_built_again():
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as db:
        db.execute("CREATE TABLE index_probe (x int)")
        try:
            db.execute("INSERT INTO index_probe VALUES (1), (1)")
            with pytest.raises(psycopg.errors.UniqueViolation):  # the build fails and leaves its index
                db.execute("CREATE UNIQUE INDEX CONCURRENTLY index_probe_idx ON index_probe (x)")
            valid = "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s"
            assert db.execute(valid, ["index_probe_idx"]).fetchall() == [(False,)]

            db.execute(DROP_INVALID.format(name="index_probe_idx"))
            db.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS index_probe_idx ON index_probe (x)")

            assert db.execute(valid, ["index_probe_idx"]).fetchall() == [(True,)]
            db.execute(DROP_INVALID.format(name="index_probe_idx"))  # a valid one is left alone
            assert db.execute(valid, ["index_probe_idx"]).fetchall() == [(True,)]
        finally:
            db.execute("DROP TABLE index_probe")
