"""The embedded PostgreSQL used when no DATABASE_URL is set, so a newcomer needs nothing installed.

pgserver ships PostgreSQL binaries in its wheel and keeps its data in a folder (``.pgdata`` in the
checkout, git-ignored; ``EMBEDDED_PG_DIR`` moves it). The server listens on a Unix socket only.
pgserver counts the processes holding it and stops the server when the last one exits; the gunicorn
master holds it for all its workers (see gunicorn.conf.py), so it is started once and stopped cleanly.
"""

import json
import logging
import os
import warnings
from pathlib import Path

logger = logging.getLogger(__name__)

DATABASE_NAME = "traitortrack"
DEFAULT_DIR = Path(__file__).resolve().parent.parent / ".pgdata"

_server = None


def data_dir() -> Path:
    return Path(os.environ.get("EMBEDDED_PG_DIR") or DEFAULT_DIR)


def start() -> str:
    """Start (or join) the embedded server and return a URL for the project's database."""
    global _server
    with warnings.catch_warnings():
        # pgserver keeps its lock file in the XDG runtime folder and warns when a server has none.
        warnings.simplefilter("ignore", UserWarning)
        import pgserver  # imported here: production with DATABASE_URL never loads it

    if _server is None:
        _forget_dead_holders(pgserver, data_dir())
        _server = pgserver.get_server(data_dir(), cleanup_mode="stop")
        _create_database(_server.get_uri())
    return _server.get_uri(DATABASE_NAME)


def _forget_dead_holders(pgserver, pgdata: Path) -> None:
    """Drop processes that died without letting go (kill -9, a crashed CI run) from pgserver's list.

    pgserver stops the server when the last process on its list exits; a dead process left on the list
    would keep the server running for good. The list and its lock are pgserver's (pinned version).
    """
    holders_file = pgdata / ".handle_pids.json"
    with pgserver.PostgresServer._lock:
        if not holders_file.exists():
            return
        holders = json.loads(holders_file.read_text())
        alive = [pid for pid in holders if _is_alive(pid)]
        if alive != holders:
            logger.info("embedded PostgreSQL: forgetting exited holders %s", sorted(set(holders) - set(alive)))
            holders_file.write_text(json.dumps(alive))


def _is_alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _create_database(maintenance_url: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone():
            return
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))
        except psycopg.errors.DuplicateDatabase:
            return  # another process created it at the same moment
        logger.info("created database %s in the embedded server at %s", DATABASE_NAME, data_dir())


def stop() -> None:
    """Release this process's hold on the server; the last holder stops it."""
    global _server
    if _server is not None:
        _server.cleanup()
        _server = None


def database_url() -> str:
    """DATABASE_URL if set, otherwise the embedded server (started on demand)."""
    return os.environ.get("DATABASE_URL") or start()
