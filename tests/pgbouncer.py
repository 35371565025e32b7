"""A real PgBouncer in transaction pooling, and the test run through it (``pytest --through-pgbouncer``).

Debian's pgbouncer (1.18, /usr/sbin/pgbouncer) runs from a temporary folder on a free port of 127.0.0.1, in
front of the server the tests use (the embedded PostgreSQL's Unix socket, or DATABASE_URL's host), its
wildcard database reaching every database there. With ``--through-pgbouncer`` pytest-django creates each
xdist worker's test database directly, then the default connection is pointed at that worker's own
PgBouncer with the settings production uses behind one (traitortrack.settings.through_transaction_pooler),
and the PgBouncer is stopped before the test database is dropped (it would keep server connections to it).
bench/pooling.py runs the same PgBouncer in front of the bench database.
"""

import copy
import getpass
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from tests.caches import free_port

PGBOUNCER = Path(os.environ.get("PGBOUNCER", "/usr/sbin/pgbouncer"))
START_TIMEOUT_SECONDS = 10

# The PgBouncer the tests run through (this process's), when --through-pgbouncer is on.
running: "PgBouncer | None" = None


class PgBouncer:
    """pgbouncer in transaction pooling in front of one PostgreSQL server; ``server`` holds psycopg's
    connection parameters (host: a name or a Unix socket folder, port, user, password).

    PgBouncer refuses to run as root: as root it drops to the owner of the server's socket folder (the only
    one who may reach a socket in the embedded server's data folder) or to nobody over TCP."""

    def __init__(self, server: dict, *, pool_size: int = 20, max_clients: int = 1000) -> None:
        self.server = server
        self.pool_size = pool_size
        self.max_clients = max_clients
        self.port = free_port()
        self.user = server.get("user") or getpass.getuser()
        self.folder: Path | None = None
        # The same database on the server itself (set for the test run's PgBouncer).
        self.direct_url = ""
        self.process: subprocess.Popen | None = None

    def url(self, dbname: str) -> str:
        """A DATABASE_URL for ``dbname`` through this PgBouncer."""
        password = f":{quote(self.server['password'], safe='')}" if self.server.get("password") else ""
        return f"postgres://{quote(self.user, safe='')}{password}@127.0.0.1:{self.port}/{quote(dbname, safe='')}"

    def _run_as(self) -> str | None:
        if os.geteuid() != 0:
            return None
        host = str(self.server.get("host") or "")
        return pwd.getpwuid(Path(host).stat().st_uid).pw_name if host.startswith("/") else "nobody"

    def _config(self) -> str:
        server = [f"host={self.server.get('host') or '127.0.0.1'}", f"port={self.server.get('port') or 5432}"]
        server.append(f"user={self.user}")
        if self.server.get("password"):
            server.append(f"password={self.server['password']}")
        return "\n".join(
            [
                "[databases]",
                f"* = {' '.join(server)}",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {self.port}",
                "unix_socket_dir =",
                "auth_type = trust",
                f"auth_file = {self.folder / 'users.txt'}",
                "pool_mode = transaction",
                f"default_pool_size = {self.pool_size}",
                f"max_client_conn = {self.max_clients}",
                "log_connections = 0",
                "log_disconnections = 0",
                "",
            ]
        )

    def start(self) -> "PgBouncer":
        if not PGBOUNCER.exists():
            raise FileNotFoundError(f"{PGBOUNCER} is missing: apt-get install pgbouncer")
        self.folder = Path(tempfile.mkdtemp(prefix="tt-pgbouncer-"))
        (self.folder / "users.txt").write_text(f'"{self.user}" "{self.server.get("password") or ""}"\n')
        (self.folder / "pgbouncer.ini").write_text(self._config())
        argv = [str(PGBOUNCER)]
        if run_as := self._run_as():
            for path in (self.folder, *self.folder.iterdir()):
                shutil.chown(path, run_as)
            argv += ["-u", run_as]
        self.log = (self.folder / "pgbouncer.log").open("w")
        self.process = subprocess.Popen(
            [*argv, str(self.folder / "pgbouncer.ini")], stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"pgbouncer did not start: {self.log_text()}") from None
                time.sleep(0.05)

    def log_text(self) -> str:
        return (self.folder / "pgbouncer.log").read_text(errors="replace") if self.folder else ""

    def stop(self) -> None:
        """Stop it at once (SIGTERM: its clients and server connections are closed) and remove its folder."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.folder is not None:
            self.log.close()
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __enter__(self) -> "PgBouncer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def server_of(connection) -> dict:
    """The server a Django connection reaches, as PgBouncer's ``server`` (the embedded server's socket
    folder is an OPTIONS host, not HOST: the parameters the connection really uses)."""
    params = connection.get_connection_params()
    return {key: params.get(key) for key in ("host", "port", "user", "password")}


def through_pgbouncer(django_db_blocker) -> Iterator[None]:
    """The body of the session fixture behind ``--through-pgbouncer`` (tests/conftest.py), run after
    pytest-django made the test database: the default connection repointed at a new PgBouncer, and back."""
    global running
    from django.db import connection

    from tests.worker import test_database_url  # it imports this module
    from traitortrack.settings import through_transaction_pooler

    with django_db_blocker.unblock():
        direct = copy.deepcopy(connection.settings_dict)
        bouncer = PgBouncer(server_of(connection)).start()
        bouncer.direct_url = test_database_url()
        # The pool's connections were opened directly: closed, so the next are opened through PgBouncer.
        connection.close()
        connection.close_pool()
        settings = connection.settings_dict
        settings["HOST"], settings["PORT"] = "127.0.0.1", str(bouncer.port)
        settings["USER"] = bouncer.user
        for key in ("host", "port"):
            settings["OPTIONS"].pop(key, None)
        through_transaction_pooler(settings)
    running = bouncer
    try:
        yield
    finally:
        running = None
        with django_db_blocker.unblock():
            connection.close()
            connection.close_pool()
            settings.clear()
            settings.update(direct)
            bouncer.stop()


def process_env() -> dict[str, str]:
    """What a process a test starts (a background worker) needs to connect as production does behind
    PgBouncer: DATABASE_URL through it, DATABASE_DIRECT_URL to the server (manage.py's direct commands)."""
    if running is None:
        return {}
    return {"DATABASE_POOLER": "pgbouncer", "DATABASE_DIRECT_URL": running.direct_url}
