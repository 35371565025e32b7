"""The restore drill (README, "Backup and restore"): a small database is dumped as the nightly backup dumps
(pg_dump -Fc), restored into a fresh database (pg_restore), served by the app (gunicorn as in production: /ready,
a biller's login, a bag's page and API), and every table counted on both sides.

    scripts/restore-drill [--bags 3000] [--keep]

Works on DATABASE_URL's server, or on the embedded PostgreSQL without it (as CI runs it, once, after the suite),
in two scratch databases of its own, dropped at the end unless --keep. pg_dump and pg_restore are the embedded
server's (the pgserver package's, PostgreSQL 16): they dump an older server as well. Exit status 0 only when
the restored database is the same, row for row, and the app serves it.
"""

import argparse
import http.cookiejar
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
# The demo's first parent (imports/seeding.py, DEMO_PARENTS) and the biller seed_demo makes.
PARENT_CODE = "SB90001"
BILLER = "biller"

TABLES_SQL = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
SEQUENCES_SQL = "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1"
COUNT_MISMATCH_SQL = """
SELECT count(*) FROM bags_bag AS parent
WHERE parent.kind = 'parent'
  AND parent.child_count <> (SELECT count(*) FROM bags_link AS link WHERE link.parent_id = parent.id)
"""


def binaries() -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        import pgserver

    return Path(pgserver.__file__).parent / "pginstall" / "bin"  # the package's own PostgreSQL (pinned version)


@contextmanager
def server_url():
    """A maintenance URL of the server to drill on: DATABASE_URL's, or the embedded one, held meanwhile."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    sys.path.insert(0, str(ROOT))
    from traitortrack import embedded_db

    try:
        yield embedded_db.start()
    finally:
        embedded_db.stop()


def with_database(url: str, name: str) -> str:
    return urllib.parse.urlunsplit(urllib.parse.urlsplit(url)._replace(path=f"/{name}"))


def run(
    *command: str, database_url: str | None = None, static_root: str | None = None, **options
) -> subprocess.CompletedProcess:
    env = {**os.environ, "GUNICORN_ACCESS_LOG": ""}
    if database_url:
        env["DATABASE_URL"] = database_url
    if static_root:
        env["STATIC_ROOT"] = static_root
    env.pop("REDIS_URL", None)  # nothing here needs the cache; the drill must not touch a real one
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, **options)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def manage(url: str, *arguments: str, static_root: str | None = None) -> str:
    return run(PYTHON, "manage.py", *arguments, database_url=url, static_root=static_root, timeout=600).stdout


def make_source(url: str, bags: int) -> str:
    """Migrate and seed: the demo (users, two parents, a bill), bulk bags with their links and scan events.
    Returns the demo biller's password."""
    manage(url, "migrate", "--no-input")
    printed = manage(url, "seed_demo")
    password = re.search(rf"^\s*biller\s+{BILLER}\s+(\S+)\s*$", printed, re.MULTILINE)
    if password is None:
        raise SystemExit(f"seed_demo printed no password for {BILLER!r}:\n{printed}")
    manage(url, "seed_bulk", "--bags", str(bags), "--with-scans", "--user", "dispatcher", "--seed", "20")
    return password.group(1)


def counts(url: str) -> tuple[dict[str, int], dict[str, int]]:
    """Rows per table and each sequence's last value (so that the restored database numbers new rows on)."""
    with psycopg.connect(url) as conn:
        tables = [name for (name,) in conn.execute(TABLES_SQL)]
        rows = {
            name: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name))).fetchone()[0]
            for name in tables
        }
        sequences = dict(conn.execute(SEQUENCES_SQL).fetchall())
    return rows, sequences


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(url: str):
    """gunicorn as in production (one worker) on the restored database; its base URL once /ready says 200."""
    port = free_port()
    with tempfile.TemporaryDirectory() as static, tempfile.TemporaryFile(mode="w+") as log:
        # The pages need collectstatic's files and manifest (whitenoise, DEBUG off): collected here, in a
        # folder of the drill's own, as scripts/serve collects them into staticfiles/.
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "STATIC_ROOT": static,
            "BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "1",
            "GUNICORN_ACCESS_LOG": "",
        }
        env.pop("REDIS_URL", None)
        manage(url, "collectstatic", "--no-input", "--verbosity", "0", static_root=static)
        process = subprocess.Popen(
            [str(Path(PYTHON).parent / "gunicorn"), "-c", "traitortrack/gunicorn.conf.py", "traitortrack.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while not answers(f"{base}/ready"):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise SystemExit(f"the app did not serve the restored database:\n{log.read()}")
                time.sleep(0.3)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=30)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - the local app
            return response.status == 200
    except OSError:
        return False


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def logged_in(base: str, password: str) -> urllib.request.OpenerDirector:
    """The biller logged in through the login form, as a browser does."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())
    login = f"{base}/accounts/login/"
    opener.open(login, timeout=10).read()
    token = next(item.value for item in jar if item.name == "csrftoken")
    form = urllib.parse.urlencode({"username": BILLER, "password": password, "csrfmiddlewaretoken": token})
    try:
        opener.open(urllib.request.Request(login, data=form.encode(), headers={"Referer": login}), timeout=30)  # noqa: S310
    except urllib.error.HTTPError as answer:
        if answer.code != 302:
            raise SystemExit(f"the biller could not log in to the restored database (HTTP {answer.code})") from None
    if not any(item.name == "sessionid" for item in jar):
        raise SystemExit("the biller could not log in to the restored database (no session)")
    return opener


def check_served(base: str, password: str, source_url: str) -> None:
    """The restored app answers a biller as the source would: the demo parent's API and its page."""
    import json

    with psycopg.connect(source_url) as conn:
        child_count = conn.execute("SELECT child_count FROM bags_bag WHERE qr_id = %s", [PARENT_CODE]).fetchone()[0]
    opener = logged_in(base, password)
    with opener.open(f"{base}/api/bags/{PARENT_CODE}", timeout=10) as response:
        bag = json.loads(response.read())
    served = (bag["bag"]["child_count"], len(bag["children"]))
    if served != (child_count, child_count):
        raise SystemExit(f"the restored {PARENT_CODE} has {served} children (count, listed), the source {child_count}")
    with opener.open(f"{base}/bags/{PARENT_CODE}/", timeout=10) as response:
        if response.status != 200 or PARENT_CODE not in response.read().decode():
            raise SystemExit(f"the bag page of {PARENT_CODE} did not show it")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bags", type=int, default=3000, help="bulk bags in the small database (default 3000)")
    parser.add_argument("--keep", action="store_true", help="keep the two databases and the dump")
    options = parser.parse_args()
    suffix = os.getpid()
    source_name, restored_name = f"tt_drill_source_{suffix}", f"tt_drill_restored_{suffix}"
    bin_dir = binaries()

    with server_url() as maintenance, ExitStack() as stack:
        admin = stack.enter_context(psycopg.connect(maintenance, autocommit=True))
        for name in (source_name, restored_name):
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            if not options.keep:
                stack.callback(
                    admin.execute, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
        source, restored = with_database(maintenance, source_name), with_database(maintenance, restored_name)

        password = make_source(source, options.bags)
        folder = tempfile.mkdtemp() if options.keep else stack.enter_context(tempfile.TemporaryDirectory())
        dump = Path(folder) / "traitortrack.dump"
        started = time.monotonic()
        run(str(bin_dir / "pg_dump"), "--format=custom", f"--file={dump}", f"--dbname={source}", timeout=600)
        dumped = time.monotonic() - started
        started = time.monotonic()
        run(
            str(bin_dir / "pg_restore"), "--no-owner", "--exit-on-error", f"--dbname={restored}", str(dump), timeout=600
        )
        restored_in = time.monotonic() - started

        (source_rows, source_sequences), (restored_rows, restored_sequences) = counts(source), counts(restored)
        differ = {name: (n, restored_rows.get(name)) for name, n in source_rows.items() if restored_rows.get(name) != n}
        if differ or restored_rows.keys() != source_rows.keys():
            raise SystemExit(f"restored counts differ (table: source, restored): {differ}")
        if restored_sequences != source_sequences:
            raise SystemExit("restored sequences differ from the source's")
        with psycopg.connect(restored) as conn:
            mismatched = conn.execute(COUNT_MISMATCH_SQL).fetchone()[0]
        if mismatched:
            raise SystemExit(f"{mismatched} restored parents' child counts differ from their links")
        with serving(restored) as base:
            check_served(base, password, source)

        print(f"restore drill: ok. {len(source_rows)} tables, {sum(source_rows.values()):,} rows, equal on both sides")
        for name in ("bags_bag", "bags_link", "scanning_scan", "bills_bill", "accounts_user", "audit_auditlog"):
            if name in source_rows:
                print(f"  {name:<16} {source_rows[name]:>8,}")
        print(
            f"  dump {dump.stat().st_size / 1024:,.0f} KB in {dumped:.1f} s, restore {restored_in:.1f} s;"
            " the app served it (/ready, a biller's login, a bag's API and page)"
        )
        if options.keep:
            print(f"  kept: databases {source_name}, {restored_name}; dump {dump}")


if __name__ == "__main__":
    main()
