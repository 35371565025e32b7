"""Indexes built concurrently by a migration (``atomic = False``), for the tables every scan writes.

A concurrent build that fails (a deadlock, a cancelled deploy) leaves its index behind INVALID: never used,
yet ``CREATE INDEX ... IF NOT EXISTS`` would find the name and skip it on the next try, and the queries
needing it would read the whole table for ever. So an invalid one of that name is dropped first.
"""

from django.db import migrations

DROP_INVALID = """
DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             WHERE c.relname = '{name}' AND NOT i.indisvalid) THEN
    DROP INDEX {name};
  END IF;
END $$
"""


def concurrent_index(name: str, definition: str) -> list[migrations.RunSQL]:
    """The operations that build index ``name`` (``definition``: ``ON table (columns) [WHERE ...]``)."""
    return [
        migrations.RunSQL(DROP_INVALID.format(name=name), migrations.RunSQL.noop),
        migrations.RunSQL(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} {definition}",
            f"DROP INDEX CONCURRENTLY IF EXISTS {name}",
        ),
    ]
