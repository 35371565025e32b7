"""Bulk writing with PostgreSQL COPY, shared by the file imports and the seeders: rows as COPY text in
batches, written through psycopg's COPY (Django's cursor wrapper has none), with progress reported."""

from collections.abc import Iterator
from typing import Any, Protocol

from psycopg import sql

# Rows per COPY write (~300 KB): big enough that the per-call cost vanishes, small enough to keep memory flat.
CHUNK_ROWS = 5_000


class Progress(Protocol):
    """Where a bulk load reports rows written (a command draws a progress bar from it)."""

    def start(self, total_rows: int, report: Any = None) -> None:
        """``report``: the import's ImportReport as it fills (rows read, errors so far), for a progress that
        shows them; None for the seeders."""

    def advance(self, phase: str, rows: int) -> None: ...


def chunked(lines: Iterator[str]) -> Iterator[tuple[str, int]]:
    """COPY text lines in batches of CHUNK_ROWS, each with its row count (for a progress bar)."""
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= CHUNK_ROWS:
            yield "".join(batch), len(batch)
            batch.clear()
    if batch:
        yield "".join(batch), len(batch)


def copy_rows(
    pg, table: str, columns: tuple[str, ...], chunks: Iterator[tuple[str, int]], phase: str, progress: Progress | None
) -> None:
    """COPY the chunks' text rows into ``table``; ``pg`` is a psycopg cursor (Django's wrapper has no COPY)."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    # The plain writer, not psycopg's QueuedLibpqWriter: the server is the slow side here, and that
    # queue (up to 1024 blocks) fills and holds a hundred megabytes or more. The kernel's socket buffers
    # still let Python format the next chunk while the server takes in the last one.
    with pg.copy(statement) as copy:
        for text, rows in chunks:
            copy.write(text)
            if progress is not None:
                progress.advance(phase, rows)
