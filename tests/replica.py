"""A real streaming standby of the tests' PostgreSQL, for the read-replica tests (traitortrack/replica.py).

``Standby.make`` copies the server the tests use (the embedded one, or DATABASE_URL's) with
``pg_basebackup -R`` into a folder of its own and starts it on a free port of 127.0.0.1, with the binaries of
the server's own major version (pgserver's, or Debian's in /usr/lib/postgresql/N/bin). As root it runs as the
user that owns the primary's data (PostgreSQL refuses to run as root). The test database exists by then and
replicates like everything else; Django never creates or flushes anything on the standby (the alias is a test
mirror of the primary's, settings.replica_database). ``caught_up()`` waits for replay by comparing the
primary's WAL position with the standby's, never by sleeping.
"""

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.test import override_settings

from tests.caches import free_port
from traitortrack import replica

# What a hot standby must have at least as much of as its primary, or it will not start.
PRIMARY_SETTINGS = (
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
)
WAIT_SECONDS = 60


def _wait(condition) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the standby did not get there in {WAIT_SECONDS} s")
        time.sleep(0.02)


class NoReplication(Exception):
    """The primary refuses replication connections (its pg_hba.conf has no "replication" line for us)."""


def _primary_params() -> dict:
    """libpq parameters of the tests' server (its maintenance database), from the primary alias."""
    params = connections[DEFAULT_DB_ALIAS].get_connection_params()
    keep = {"host", "port", "user", "password"}
    return {key: value for key, value in params.items() if key in keep and value not in (None, "")}


def _bin_dir(major: int) -> Path:
    """Binaries of PostgreSQL ``major``: pgserver's own, else the system's."""
    candidates = [Path(f"/usr/lib/postgresql/{major}/bin")]
    try:
        from pgserver._commands import POSTGRES_BIN_PATH

        candidates.insert(0, POSTGRES_BIN_PATH)
    except ImportError:
        pass
    for folder in candidates:
        postgres = folder / "postgres"
        if postgres.exists():
            version = subprocess.run([postgres, "--version"], capture_output=True, text=True, check=True).stdout
            if version.split()[-1].split(".")[0] == str(major):
                return folder
    raise RuntimeError(f"no PostgreSQL {major} binaries for a standby (looked in {', '.join(map(str, candidates))})")


class Standby:
    def __init__(self, folder: Path, bin_dir: Path, port: int, user: str | None) -> None:
        self.folder, self.bin_dir, self.port, self.user = folder, bin_dir, port, user
        self.data = folder / "data"
        self.primary = _primary_params()

    @classmethod
    def make(cls) -> "Standby":
        with psycopg.connect(dbname="postgres", autocommit=True, **_primary_params()) as primary:
            major = int(primary.execute("SHOW server_version_num").fetchone()[0]) // 10000
            data_directory = primary.execute("SHOW data_directory").fetchone()[0]
            sizes = dict(
                primary.execute("SELECT name, setting FROM pg_settings WHERE name = ANY(%s)", [list(PRIMARY_SETTINGS)])
            )
        user = pwd.getpwuid(os.stat(data_directory).st_uid).pw_name if os.geteuid() == 0 else None
        folder = Path(tempfile.mkdtemp(prefix="tt-standby-"))
        if user is not None:
            os.chown(folder, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)
        standby = cls(folder, _bin_dir(major), free_port(), user)
        try:
            standby._copy(sizes)
            standby.start()
        except BaseException:
            standby.remove()
            raise
        return standby

    def _run(self, *args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            check=check,
            user=self.user,
            cwd=self.folder,
            **kwargs,
        )

    def _copy(self, sizes: dict[str, str]) -> None:
        primary = self.primary
        args = ["pg_basebackup", "-D", str(self.data), "-R", "-X", "stream", "-c", "fast", "-U", primary["user"]]
        if "host" in primary:
            args += ["-h", primary["host"]]
        if "port" in primary:
            args += ["-p", str(primary["port"])]
        env = {**os.environ, "PGPASSWORD": primary.get("password", "")}
        copied = self._run(*args, check=False, env=env)
        if copied.returncode != 0:
            if "pg_hba.conf" in copied.stderr:
                raise NoReplication(copied.stderr.strip())
            raise RuntimeError(f"pg_basebackup failed: {copied.stderr}")
        # The primary's own configuration may live outside its data folder (Debian's in /etc): this one's own.
        config = {"hot_standby": "on", "logging_collector": "off", **sizes}
        (self.data / "postgresql.conf").write_text("".join(f"{name} = {value}\n" for name, value in config.items()))
        (self.data / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")

    def start(self) -> None:
        # On the command line: it outranks the postgresql.auto.conf copied from the primary.
        where = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.folder}"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-o", where, "-w", "start")
        self.caught_up()

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgres://{self.primary['user']}@127.0.0.1:{self.port}/{database}"

    def connect(self) -> psycopg.Connection:
        user = self.primary["user"]
        return psycopg.connect(host="127.0.0.1", port=self.port, user=user, dbname="postgres", autocommit=True)

    def caught_up(self) -> None:
        """Wait until the standby has replayed everything the primary has written so far."""
        with psycopg.connect(dbname="postgres", autocommit=True, **self.primary) as primary:
            position = primary.execute("SELECT pg_current_wal_lsn()").fetchone()[0]

        def replayed() -> bool:
            try:
                with self.connect() as standby:
                    return standby.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [position]).fetchone()[0]
            except psycopg.OperationalError:
                return False  # still starting

        _wait(replayed)

    @contextmanager
    def replay_paused(self) -> Iterator[None]:
        """The standby keeps receiving the primary's writes but applies none of them in the block."""
        with self.connect() as standby:
            standby.execute("SELECT pg_wal_replay_pause()")
            try:
                # Pausing is a request: the startup process may still apply a record before it stops.
                _wait(lambda: standby.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()[0] == "paused")
                yield
            finally:
                standby.execute("SELECT pg_wal_replay_resume()")

    @contextmanager
    def stopped(self) -> Iterator[None]:
        self.stop()
        try:
            yield
        finally:
            self.start()


@contextmanager
def replica_alias(standby: Standby) -> Iterator[None]:
    """The "replica" alias on the standby's copy of the test database, with its router and middleware, as
    settings.py sets them up for DATABASE_REPLICA_URL; taken away after."""
    from traitortrack.settings import replica_database

    primary = connections.settings[DEFAULT_DB_ALIAS]
    made = replica_database(standby.url(connections[DEFAULT_DB_ALIAS].settings_dict["NAME"]))
    connections.settings[replica.REPLICA] = connections.configure_settings({DEFAULT_DB_ALIAS: primary, "r": made})["r"]
    settings.DATABASES[replica.REPLICA] = connections.settings[replica.REPLICA]
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(middleware.index("axes.middleware.AxesMiddleware"), "traitortrack.replica.WroteMiddleware")
    replica.forget()
    try:
        with override_settings(DATABASE_ROUTERS=["traitortrack.replica.ReplicaRouter"], MIDDLEWARE=middleware):
            yield
    finally:
        connections[replica.REPLICA].close()
        connections[replica.REPLICA].close_pool()
        with suppress(AttributeError):  # never used in this thread
            del connections[replica.REPLICA]
        del connections.settings[replica.REPLICA]
        settings.DATABASES.pop(replica.REPLICA, None)
        replica.forget()
