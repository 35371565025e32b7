"""The scan loop under load: logged-in dispatchers scanning parents and children, against the raw SQL limit.

Starts the app as in production (gunicorn, gevent workers, the psycopg pool, Redis) on a database of
2 million bags, logs N dispatchers in through the login form and drives them with wrk (bench/scan.lua, a
thread and a keep-alive connection per dispatcher): each opens a new parent and scans new children into
it until it is full, then the next. Prints scans/s, p50/p95/p99 and errors per scenario. Just before and
just after each app run, pgbench sends the database the very transaction the app runs for a child scan
(BEGIN + CHILD_SCAN_STATE_SQL, then LINK_CHILD_SQL + COMMIT, taken from scanning/managers.py at run time)
with the same number of clients, and the app's scans/s are divided by the mean of the two.

    .venv/bin/python bench/scan_loop.py [--dispatchers 50,200] [--seconds 30] [--rate-test] [--profile]

--rate-test adds 200 dispatchers at 1 scan/s each for 60 s (the p99 target); --profile adds one more
full-speed run with py-spy on the workers and prints where their CPU goes per scan. pgbench runs first,
while the app is stopped; PostgreSQL's max_connections caps its clients (said so in the output).

Needs a local PostgreSQL (BENCH_DATABASE_URL, default tt_bench over the Unix socket /var/run/postgresql, or
127.0.0.1:5432 without one: created, migrated and seeded with `manage.py seed_bulk --bags 2000000
--with-scans`, a year of scan events, when it holds fewer bags, then reused),
Redis on 127.0.0.1:6379, pgbench, and bench/requirements.txt (installed into .venv when missing).
Results go to bench/results/scan_loop-<time>/. Each run takes free parent codes and new child codes, so
runs can be repeated on the same database; pgbench's rows are deleted after it.
"""

import argparse
import http.cookiejar
import importlib.metadata
import json
import math
import os
import re
import shlex
import signal
import string
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import psutil
import psycopg
from gunicorn_app import free_port, wait_ready
from psycopg.types.json import Jsonb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bags.choices import BagKind  # noqa: E402 (needs ROOT on the path)
from scanning.managers import CHILD_SCAN_STATE_SQL, LINK_CHILD_SQL  # noqa: E402 (needs ROOT on the path)

# The machine's PostgreSQL over its Unix socket when it has one, as an app on the database's own machine
# connects (the kernel's TCP path costs every round trip more), otherwise over TCP. pgbench uses the same.
LOCAL_SOCKET_DIR = Path("/var/run/postgresql")
DEFAULT_DATABASE_URL = (
    "postgres://postgres@%2Fvar%2Frun%2Fpostgresql/tt_bench"
    if (LOCAL_SOCKET_DIR / ".s.PGSQL.5432").exists()
    else "postgres://postgres@127.0.0.1:5432/tt_bench"
)
REDIS_URL = "redis://127.0.0.1:6379/1"
BAGS_WANTED = 2_000_000
AREA_NAME, AREA_CODE = "Bench bay", "bench-bay"
USER_PREFIX = "bench_d"
SEED_USER = "bench_seed"  # makes the seeded bags and scans (no password: it never logs in)
RAW_USERNAME = "bench_raw"
PASSWORD = "bench-dispatcher-2000000"  # noqa: S105 (a throw-away benchmark account on a scratch database)
BENCH_REQUIREMENTS = ROOT / "bench" / "requirements.txt"
WRK_SCRIPT = ROOT / "bench" / "scan.lua"
VENV_BIN = Path(sys.executable).parent
# More than the app can do on two cores: only used to hand out enough parent codes.
MAX_SCANS_PER_SECOND = 4000
# Logins at a time: a login hashes the password on purpose (a third of a second of CPU) and holds a pool
# connection meanwhile; 200 at once time out on the pool (HTTP 503).
LOGIN_THREADS = 4
# More than PostgreSQL can do here: only used to create enough parents for pgbench.
MAX_PGBENCH_TPS = 10000
# Stand-ins in the SQL rendered the way the app's client-side binding renders it, then swapped for
# pgbench variables.
MARK = "QZQ"


# --- Setup -------------------------------------------------------------------------------------------


def ensure_bench_requirements() -> None:
    """Install bench/requirements.txt into this venv if missing, and check no project pin moved."""
    wanted = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", BENCH_REQUIREMENTS.read_text(), re.MULTILINE))
    missing = [name for name, version in wanted.items() if installed_version(name) != version]
    if not missing:
        return
    project = (ROOT / "requirements.txt").read_text()
    pinned = dict(re.findall(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)", project, re.MULTILINE))
    print(f"installing {', '.join(missing)} from {BENCH_REQUIREMENTS.relative_to(ROOT)}", flush=True)
    subprocess.run(
        [str(VENV_BIN / "pip"), "install", "-q", "-r", str(BENCH_REQUIREMENTS)],
        check=True,
        stderr=subprocess.DEVNULL,
    )
    moved = {name: installed_version(name) for name, version in pinned.items() if installed_version(name) != version}
    if moved:
        raise SystemExit(f"installing the bench requirements changed project pins: {moved}; use a separate venv")


def installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def manage(database_url: str, *args: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def ensure_database(database_url: str, wanted: int = BAGS_WANTED) -> int:
    """Create, migrate and seed the bench database as needed (``wanted`` bags); the number of bags in it."""
    name = psycopg.conninfo.conninfo_to_dict(database_url)["dbname"]
    server_url = psycopg.conninfo.make_conninfo(database_url, dbname="postgres")
    with psycopg.connect(server_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            print(f"creating database {name}", flush=True)
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
    manage(database_url, "migrate", "--no-input", "-v0")
    with psycopg.connect(database_url) as conn:
        (bags,) = conn.execute("SELECT count(*) FROM bags_bag").fetchone()
    if bags < wanted:
        # A year of history, as the pages meet it: each parent's open and each link as scan events.
        with psycopg.connect(database_url) as conn:
            seeder = conn.execute("SELECT 1 FROM accounts_user WHERE username = %s", (SEED_USER,)).fetchone()
        if seeder is None:
            manage(database_url, "createsuperuser", "--no-input", "--username", SEED_USER, "--email", "seed@localhost")
        print(f"{name} holds {bags:,} bags: seeding {wanted:,} and their scans (a few minutes)", flush=True)
        manage(database_url, "seed_bulk", "--bags", str(wanted), "--with-scans", "--user", SEED_USER)
        with psycopg.connect(database_url) as conn:
            (bags,) = conn.execute("SELECT count(*) FROM bags_bag").fetchone()
    prewarm(database_url)
    manage(database_url, "collectstatic", "--no-input", "-v0")
    return bags


def prewarm(database_url: str) -> None:
    """Read the bench database's tables and indexes into PostgreSQL's shared buffers (pg_prewarm), as on a
    server that has been up a while. On a cold cache every random bag read went to the disk, about 3 ms each
    on this machine, and the figures measured the disk; the OS page cache alone does not keep them here (the
    host takes it back within minutes), so the database stays in memory only when shared_buffers holds it:
    printed, with a warning when it does not."""
    started = time.monotonic()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        (blocks,) = conn.execute(
            "SELECT COALESCE(sum(pg_prewarm(c.oid, 'buffer')), 0) FROM pg_class AS c"
            " JOIN pg_namespace AS n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')"
        ).fetchone()
        block_size, buffers = conn.execute(
            "SELECT current_setting('block_size')::int, setting::bigint FROM pg_settings WHERE name = 'shared_buffers'"
        ).fetchone()
    read, held = blocks * block_size / 2**20, buffers * block_size / 2**20
    print(
        f"read {read:,.0f} MB of tables and indexes into shared_buffers ({held:,.0f} MB)"
        f" in {time.monotonic() - started:.1f} s",
        flush=True,
    )
    if held < read:
        print(
            f"warning: shared_buffers ({held:,.0f} MB) cannot hold the {read:,.0f} MB: random reads will reach the"
            " disk as the page cache is dropped (ALTER SYSTEM SET shared_buffers = '5GB' and a restart)",
            flush=True,
        )


@dataclass(frozen=True)
class Dispatchers:
    area_id: int
    raw_user_id: int


def ensure_dispatchers(database_url: str, count: int) -> Dispatchers:
    """bench_d001.. as dispatchers of one area, all with PASSWORD (hashed once: a hash costs 0.3 s), and
    bench_raw, the user pgbench's scans are made as (it never logs in)."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "traitortrack.settings")
    os.environ.setdefault("DB_POOL_MAX_SIZE", "0")
    import django

    django.setup()
    from django.contrib.auth.hashers import check_password, make_password
    from django.db import connection, transaction

    from accounts.models import DispatchArea, Role, User

    with transaction.atomic():
        area, _ = DispatchArea.objects.get_or_create(name=AREA_NAME, defaults={"code": AREA_CODE})
        names = [f"{USER_PREFIX}{n:03d}" for n in range(1, count + 1)] + [RAW_USERNAME]
        existing = {user.username: user for user in User.objects.filter(username__in=names)}
        hashed = next((u.password for u in existing.values() if check_password(PASSWORD, u.password)), None)
        hashed = hashed or make_password(PASSWORD)
        for user in existing.values():
            if user.role != Role.DISPATCHER or user.dispatch_area_id != area.pk or not user.is_active:
                user.role, user.dispatch_area, user.is_active = Role.DISPATCHER, area, True
                user.save(update_fields=["role", "dispatch_area", "is_active"])
        User.objects.bulk_create(
            User(username=name, password=hashed, role=Role.DISPATCHER, dispatch_area=area)
            for name in names
            if name not in existing
        )
        raw_user_id = User.objects.get(username=RAW_USERNAME).pk
    connection.close()
    return Dispatchers(area.pk, raw_user_id)


FREE_PARENT_CODES_SQL = """
SELECT p.parent_prefix || lpad(n::text, p.parent_digits, '0') AS code
FROM bags_product AS p
CROSS JOIN LATERAL generate_series(0::bigint, (10::bigint ^ p.parent_digits)::bigint - 1) AS n
WHERE p.is_active
  AND NOT EXISTS (SELECT 1 FROM bags_bag AS b WHERE b.qr_id = p.parent_prefix || lpad(n::text, p.parent_digits, '0'))
ORDER BY n, p.code
LIMIT %(wanted)s
"""


def free_parent_codes(database_url: str, wanted: int) -> list[str]:
    """Parent codes no bag has yet, the products taking turns."""
    with psycopg.connect(database_url) as conn:
        codes = [code for (code,) in conn.execute(FREE_PARENT_CODES_SQL, {"wanted": wanted})]
    if len(codes) < wanted:
        raise SystemExit(f"only {len(codes):,} free parent codes left, {wanted:,} wanted: reseed the bench database")
    return codes


# --- Processes and measurements ----------------------------------------------------------------------


def stop_process(process: subprocess.Popen, timeout: float = 15) -> None:
    """Stop a process this script started (Ctrl-C, an error): SIGTERM, then SIGKILL after ``timeout`` s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Gunicorn:
    """The app as in production: gunicorn -c traitortrack/gunicorn.conf.py, gevent workers, pool, Redis."""

    def __init__(self, database_url: str, workers: int, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {key: value for key, value in os.environ.items() if key not in ("DEBUG", "DB_POOL_MAX_SIZE")}
        self.overrides = {
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "WEB_CONCURRENCY": str(workers),
            "SECRET_KEY": "bench-not-secret",
            "BIND": f"127.0.0.1:{self.port}",
            # As bench/connections.py: lines are still formatted, not stored.
            "GUNICORN_ACCESS_LOG": "/dev/null",
        }
        self.env.update(self.overrides)
        # No control socket: its default path is shared with any other gunicorn on the machine.
        self.argv = [
            str(VENV_BIN / "gunicorn"),
            "-c",
            "traitortrack/gunicorn.conf.py",
            "--no-control-socket",
            "traitortrack.wsgi",
        ]
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def command(self) -> str:
        env = " ".join(f"{key}={shlex.quote(value)}" for key, value in self.overrides.items())
        return f"env -u DEBUG {env} {shlex.join(self.argv)}"

    def __enter__(self) -> "Gunicorn":
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        wait_ready(f"{self.url}/ready", self.process)
        return self

    def __exit__(self, *exc) -> None:
        if self.process:
            stop_process(self.process, timeout=30)  # gunicorn's graceful_timeout is 20 s
        self.log.close()


BACKEND_DATABASES_SQL = "SELECT pid, datname FROM pg_stat_activity"


class CpuSampler(threading.Thread):
    """CPU seconds used so far by each part (app, database, load generator, ...), sampled twice a second.

    PostgreSQL processes count for the bench database and its background workers only, so another
    database's tests on the same server show up as "other", with everything else on the machine.
    """

    def __init__(self, database_url: str, groups: dict[str, int], log_path: Path | None = None) -> None:
        super().__init__(daemon=True)
        self.log_path = log_path  # its size is sampled too, to find the lines written in a window
        self.database = psycopg.conninfo.conninfo_to_dict(database_url)["dbname"]
        self.database_url = database_url
        self.groups = groups  # name -> root pid, the process and its children
        self.samples: list[tuple[float, dict[str, float]]] = []
        self.stopped = threading.Event()
        self.seen: dict[int, tuple[psutil.Process, str, float]] = {}

    def _sample(self, conn: psycopg.Connection) -> dict[str, float]:
        owners: dict[int, str] = {}
        for name, pid in self.groups.items():
            try:
                root = psutil.Process(pid)
                for process in [root, *root.children(recursive=True)]:
                    owners[process.pid] = name
            except psutil.NoSuchProcess:
                pass
        databases = dict(conn.execute(BACKEND_DATABASES_SQL).fetchall())
        for process in psutil.process_iter(["name"]):
            if process.info["name"] == "postgres" and databases.get(process.pid) in (None, self.database):
                owners.setdefault(process.pid, "postgres")
        for pid, name in owners.items():
            try:
                process = self.seen[pid][0] if pid in self.seen else psutil.Process(pid)
                times = process.cpu_times()
                self.seen[pid] = (process, name, times.user + times.system)
            except psutil.NoSuchProcess:
                pass  # its last sample stays counted
        used: dict[str, float] = {}
        for _, name, seconds in self.seen.values():
            used[name] = used.get(name, 0.0) + seconds
        machine = psutil.cpu_times()
        if self.log_path is not None:
            used["log_bytes"] = float(self.log_path.stat().st_size)
        used["machine"] = (
            machine.user + machine.system + machine.nice + getattr(machine, "irq", 0) + getattr(machine, "softirq", 0)
        )
        return used

    def run(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            while not self.stopped.is_set():
                self.samples.append((time.time(), self._sample(conn)))
                self.stopped.wait(0.5)
            self.samples.append((time.time(), self._sample(conn)))

    def stop(self) -> None:
        self.stopped.set()
        self.join()

    def log_between(self, start: float, end: float) -> str:
        """What the log got between two times (to the nearest half second, a little more rather than less)."""
        before = [s[1]["log_bytes"] for s in self.samples if s[0] <= start] or [0.0]
        after = [s[1]["log_bytes"] for s in self.samples if s[0] >= end] or [self.samples[-1][1]["log_bytes"]]
        with self.log_path.open("rb") as file:
            file.seek(int(before[-1]))
            return file.read(int(after[0] - before[-1])).decode(errors="replace")

    def between(self, start: float, end: float) -> dict[str, float]:
        """Per part: the share of the machine's cores used between two times (1.0 = one core busy)."""

        def at(moment: float) -> dict[str, float]:
            before = [s for s in self.samples if s[0] <= moment]
            return (before[-1] if before else self.samples[0])[1]

        first, last = at(start), at(end)
        seconds = max(end - start, 1e-9)
        shares = {name: (last.get(name, 0.0) - first.get(name, 0.0)) / seconds for name in last if name != "log_bytes"}
        shares["other"] = shares.pop("machine") - sum(shares.values())
        return shares


# --- Load: wrk ---------------------------------------------------------------------------------------


@dataclass
class Result:
    scenario: str
    clients: int
    scans_per_second: float
    p50: float
    p95: float
    p99: float
    errors: int
    requests: int
    child_per_second: float = float("nan")
    parent_per_second: float = float("nan")
    ratio: float | None = None
    error_codes: dict[str, int] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    profile: str = ""
    server_log: list[str] = field(default_factory=list)
    seconds: float = 0.0
    command: str = ""
    notes: list[str] = field(default_factory=list)
    window: tuple[float, float] = (0.0, 0.0)  # the measured seconds, epoch start and end


def slug(name: str) -> str:
    """A scenario's name as a file name: app-full-speed-x50."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def run_id(counter: list[int]) -> str:
    """7 characters [A-Z0-9], new for every wrk run: base 36 of the time in tenths of a second."""
    while True:
        tenths = int(time.time() * 10)
        if tenths != counter[0]:
            counter[0] = tenths
            break
        time.sleep(0.1)
    digits = string.digits + string.ascii_uppercase
    text = ""
    while tenths:
        tenths, rest = divmod(tenths, 36)
        text = digits[rest] + text
    return text[-7:].rjust(7, "0")


@dataclass(frozen=True)
class Session:
    """A dispatcher logged in through the login form: what their scanner sends with every scan."""

    username: str
    sessionid: str
    csrftoken: str


def log_in(base_url: str, username: str) -> Session:
    """Log in through the login form as a browser does (GET the form for its CSRF cookie, POST it)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())
    login_url = f"{base_url}/accounts/login/"
    for attempt in range(5):
        try:
            opener.open(login_url, timeout=30).read()
            form = {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": cookie(jar, "csrftoken")}
            request = urllib.request.Request(  # noqa: S310 (the app's own local URL)
                login_url, data=urllib.parse.urlencode(form).encode(), headers={"Referer": login_url}
            )
            with opener.open(request, timeout=30) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except OSError:
            status = 0
        if status == 302 and cookie(jar, "sessionid"):
            # Django rotates the CSRF token at login: the new one goes with every scan.
            return Session(username, cookie(jar, "sessionid"), cookie(jar, "csrftoken"))
        time.sleep(1 + attempt)
    raise SystemExit(f"{username} could not log in (last answer: HTTP {status}); see the gunicorn log")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the login's 302 is the answer wanted, not the page it points to


def cookie(jar: http.cookiejar.CookieJar, name: str) -> str:
    return next((item.value for item in jar if item.name == name), "")


def log_in_dispatchers(base_url: str, count: int) -> list[Session]:
    """bench_d001.. logged in, LOGIN_THREADS at a time; their sessions last the whole run (8 h, 30 min idle)."""
    started = time.monotonic()
    names = [f"{USER_PREFIX}{n:03d}" for n in range(1, count + 1)]
    with ThreadPoolExecutor(max_workers=LOGIN_THREADS) as pool:
        sessions = list(pool.map(lambda name: log_in(base_url, name), names))
    print(f"  {count} dispatchers logged in through the login form in {time.monotonic() - started:.0f} s", flush=True)
    return sessions


def run_wrk(
    *,
    name: str,
    sessions: list[Session],
    rate: float,
    seconds: int,
    warmup: int,
    app: Gunicorn,
    database_url: str,
    out: Path,
    ids: list[int],
    profile: bool = False,
) -> Result:
    """len(sessions) dispatchers, one wrk thread and connection each (bench/scan.lua), scanning for
    ``warmup`` seconds, then measured for ``seconds``; ``rate`` scans a second each, 0 = full speed."""
    users = len(sessions)
    scans_wanted = (rate * users if rate else MAX_SCANS_PER_SECOND) * (seconds + warmup + 5)
    per_user = math.ceil(scans_wanted / users / 31) + 2
    codes = free_parent_codes(database_url, per_user * users)
    files = slug(name)
    dispatchers_file = out / f"{files}-dispatchers.txt"
    dispatchers_file.write_text(
        "".join(
            f"{session.sessionid} {session.csrftoken} {n + 1:03d} {','.join(codes[n::users])}\n"
            for n, session in enumerate(sessions)
        )
    )
    window_start = time.time() + 1 + warmup  # a second for wrk to start and connect
    window_end = window_start + seconds
    env_vars = {
        "BENCH_DISPATCHERS_FILE": str(dispatchers_file),
        "BENCH_RUN_ID": run_id(ids),
        "BENCH_INTERVAL_MS": str(1000 / rate if rate else 0),
        "BENCH_WINDOW_START_MS": str(int(window_start * 1000)),
        "BENCH_WINDOW_END_MS": str(int(window_end * 1000)),
    }
    argv = ["wrk", f"-t{users}", f"-c{users}", f"-d{math.ceil(window_end - time.time()) + 1}s", "--timeout", "10s"]
    argv += ["-s", str(WRK_SCRIPT), app.url]
    command = " ".join(f"{k}={shlex.quote(v)}" for k, v in env_vars.items() if k != "BENCH_DISPATCHERS_FILE")
    command += " BENCH_DISPATCHERS_FILE=... " + shlex.join(argv)
    print(f"  {name}: {users} dispatchers, {f'{rate:g} scan/s each' if rate else 'full speed'}", flush=True)
    wrk = subprocess.Popen(
        argv, cwd=ROOT, env={**os.environ, **env_vars}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    sampler = CpuSampler(database_url, {"app": app.process.pid, "wrk": wrk.pid, "redis": redis_pid()}, app.log_path)
    sampler.start()
    profiler = Profiler(app, window_start, seconds, out / files) if profile else None
    split = WorkerSplit(app, window_start, window_end)
    try:
        output, errors = wrk.communicate()
    finally:
        stop_process(wrk)
        sampler.stop()
        split.join()
        if profiler:
            profiler.join()
    (out / f"{files}-wrk.txt").write_text(output + errors)
    figures = next((json.loads(line) for line in output.splitlines() if line.startswith("{")), None)
    if wrk.returncode != 0 or figures is None:
        raise SystemExit(f"wrk failed ({wrk.returncode}): {(output + errors).strip()[-2000:]}")
    result = wrk_result(name, users, figures, seconds)
    result.cpu = sampler.between(window_start, window_end)
    result.server_log = log_problems(sampler.log_between(window_start, window_end))
    result.command = command
    result.window = (window_start, window_end)
    result.notes.append(split.note())
    if profiler:
        result.notes.append("py-spy sampled the workers in this window: its figures are lower than without")
        result.profile = profiler.report(result.cpu.get("app", 0.0) * 1000 / max(result.scans_per_second, 1e-9))
    return result


def wrk_result(name: str, users: int, figures: dict, seconds: int) -> Result:
    """The window's scans from bench/scan.lua's figures: every latency, and the answers by kind and code."""
    latencies = sorted(int(us) / 1000 for us in figures["latencies_us"].split(",") if us)
    answers: dict[str, int] = {}
    for item in figures["answers"].split(";"):
        if item:
            key, _, count = item.rpartition("=")
            answers[key] = answers.get(key, 0) + int(count)
    ok = {key: n for key, n in answers.items() if " 200 " in key}
    refused = {key: n for key, n in answers.items() if " 200 " not in key}
    if figures["socket_errors"]:
        refused["socket errors (connect, read, write, timeout)"] = figures["socket_errors"]
    return Result(
        scenario=name,
        clients=users,
        scans_per_second=len(latencies) / seconds,
        p50=percentile(latencies, 0.50),
        p95=percentile(latencies, 0.95),
        p99=percentile(latencies, 0.99),
        errors=sum(refused.values()),
        requests=len(latencies),
        child_per_second=sum(n for key, n in answers.items() if key.startswith("child ")) / seconds,
        parent_per_second=sum(n for key, n in answers.items() if key.startswith("parent ")) / seconds,
        error_codes=refused,
        seconds=seconds,
        notes=[f"answers: {', '.join(f'{key} x{n}' for key, n in sorted(ok.items()))}"],
    )


# Where a worker's time goes, by the first marker found in a sampled stack (most specific first).
PROFILE_PARTS = (
    ("pool checkout and its health check (execute(''))", "ConnectionPool.getconn"),
    ("pool return", "ConnectionPool.putconn"),
    ("child scan: BEGIN + CHILD_SCAN_STATE_SQL", "ScanTransaction.child_scan_state"),
    ("child scan: LINK_CHILD_SQL + COMMIT", "ScanTransaction.link_child"),
    ("parent scan: its two statements", "ScanTransaction.parent_scan_state"),
    ("parent scan: its two statements", "ScanTransaction.open_parent"),
    ("ROLLBACK (a replay or a retry)", "ScanTransaction.__exit__"),
    ("parent formats (Redis GET, unpickle)", "ProductQuerySet.parent_formats"),
    ("transaction.atomic (undo, complete)", "Atomic.__"),
    ("session load (Redis GET)", "SessionStore.load"),
    ("session save", "SessionStore.save"),
    ("user load (SELECT accounts_user, ORM)", "ModelBackend.get_user"),
    ("JSON response", "JsonResponse.__init__"),
    ("scan services and views, Python", "(scanning/"),
    ("Django signals (request started/finished)", "Signal.send"),
    ("Django handler and middleware", "(django/"),
    ("gunicorn access log line", "glogging.py"),
    ("gunicorn HTTP parse and write", "(gunicorn/"),
)


class WorkerSplit(threading.Thread):
    """How the dispatchers' connections and the app's CPU fell to each gunicorn worker in the measured window
    (each worker listens on its own socket and the kernel spreads connections over them by a hash)."""

    def __init__(self, app: Gunicorn, start: float, end: float) -> None:
        super().__init__(daemon=True)
        self.app, self.window_start, self.window_end = app, start, end
        self.connections: list[int] = []
        self.cores: list[float] = []
        self.start()

    def run(self) -> None:
        time.sleep(max(0.0, self.window_start - time.time()))
        workers = psutil.Process(self.app.process.pid).children()
        port = self.app.port
        self.connections = [
            sum(1 for c in w.net_connections("tcp") if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port)
            for w in workers
        ]
        before = [sum(w.cpu_times()[:2]) for w in workers]
        time.sleep(max(0.0, self.window_end - time.time()))
        after = [sum(w.cpu_times()[:2]) for w in workers]
        seconds = self.window_end - self.window_start
        self.cores = [(b - a) / seconds for a, b in zip(before, after, strict=True)]

    def note(self) -> str:
        connections = " + ".join(str(n) for n in self.connections)
        cores = " + ".join(f"{c:.2f}" for c in self.cores)
        return f"per worker: {connections} dispatchers' connections, {cores} cores busy"


class Profiler(threading.Thread):
    """py-spy record on every gunicorn worker for the measured window (``start``: when it opens, epoch s)."""

    def __init__(self, app: Gunicorn, start: float, seconds: int, prefix: Path) -> None:
        super().__init__(daemon=True)
        self.app, self.window_start, self.seconds, self.prefix = app, start, seconds, prefix
        self.outputs: list[Path] = []
        self.start()

    def run(self) -> None:
        time.sleep(max(0.0, self.window_start - time.time()))
        spies = []
        for worker in psutil.Process(self.app.process.pid).children():
            output = self.prefix.with_name(f"{self.prefix.name}-py-spy-{worker.pid}.txt")
            argv = [str(VENV_BIN / "py-spy"), "record", "--pid", str(worker.pid), "--duration", str(self.seconds)]
            argv += ["--rate", "100", "--format", "raw", "--nonblocking", "--output", str(output)]
            spies.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            self.outputs.append(output)
        for spy in spies:
            spy.wait()

    def report(self, app_ms_per_scan: float) -> str:
        """Shares of the workers' busy samples (py-spy leaves idle ones out), and what they make of the
        app's CPU milliseconds per scan measured in the same window."""
        stacks: dict[str, int] = {}
        for output in self.outputs:
            if output.exists():
                for line in output.read_text().splitlines():
                    stack, _, count = line.rpartition(" ")
                    stacks[stack] = stacks.get(stack, 0) + int(count)
        total = sum(stacks.values())
        if not total:
            return "py-spy recorded nothing (is it allowed to attach? ptrace)"
        parts: dict[str, int] = {}
        leaves: dict[str, int] = {}
        for stack, count in stacks.items():
            frames = stack.split(";")
            part = next(
                (name for name, marker in PROFILE_PARTS if any(marker in f for f in frames)), "other (gevent hub...)"
            )
            parts[part] = parts.get(part, 0) + count
            leaves[frames[-1]] = leaves.get(frames[-1], 0) + count
        lines = [
            f"where the workers' CPU goes: {app_ms_per_scan:.2f} ms per scan in this window ({total:,} busy samples;"
            " the first part found in a sampled stack takes it):"
        ]
        lines += [
            f"  {100 * n / total:5.1f}%  {app_ms_per_scan * n / total:5.2f} ms  {name}"
            for name, n in sorted(parts.items(), key=lambda kv: -kv[1])
        ]
        lines.append("  top functions by own time (C calls inside them included):")
        lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in sorted(leaves.items(), key=lambda kv: -kv[1])[:8]]
        return "\n".join(lines)


def redis_pid() -> int:
    for process in psutil.process_iter(["name"]):
        if process.info["name"] == "redis-server":
            return process.pid
    return -1


# --- Raw limit: pgbench ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawTarget:
    """What pgbench's scans are made with: a user of their own (everything it writes is found and deleted
    by it), the bench area, and mustard parents from the top of the SB range (the app's runs take free
    codes from the bottom)."""

    user_id: int
    area_id: int
    product_id: int
    prefix: str
    digits: int
    capacity: int


# The variables a child scan's SQL takes, with the stand-in each is rendered with. pgbench computes
# only numbers: the parent code is the product's prefix then :parent_no, child codes are digits only.
STAND_INS = {
    "client_scan_id": f"{MARK}CLIENTSCANID",
    "parent_qr": f"{MARK}PARENTQR",
    "child_qr": f"{MARK}CHILDQR",
    "parent_id": 987_650_001,
    "user_id": 987_650_002,
    "area_id": 987_650_003,
}


def pgbench_script(database_url: str, target: RawTarget, *, body: dict) -> str:
    """The app's child-scan transaction as a pgbench script (-M simple), in the app's two round trips.

    The statements are rendered exactly as the app sends them: Django's psycopg backend binds on the
    client side, so every value is a literal and every statement is parsed and planned each time. Then
    the values are swapped for pgbench variables, which -M simple substitutes as text.
    """
    params = {**STAND_INS, "child_id": None, "body": Jsonb(body)}
    with psycopg.connect(database_url) as conn:
        cursor = psycopg.ClientCursor(conn)
        rendered = [cursor.mogrify(sql, params) for sql in (CHILD_SCAN_STATE_SQL, LINK_CHILD_SQL)]
    statements = []
    for sql in rendered:
        for variable, stand_in in STAND_INS.items():
            value = f"{target.prefix}:parent_no" if variable == "parent_qr" else f":{variable}"
            sql = sql.replace(str(stand_in), value)
        statements.append(" ".join(sql.split()))
    state, write = statements
    return "\n".join(
        [
            # Variables live on from one transaction to the next in a client: n counts its transactions.
            r"\set n :n + 1",
            r"\set parent_index :client_id * :parents_per_client + (:n - 1) / :capacity",
            r"\set parent_id :first_parent_id + :parent_index",
            r"\set parent_no :top_parent_no - :parent_index",
            r"\set child_qr 700000000000000000 + (:stamp * 1000 + :client_id) * 1000000 + :n",
            r"\set client_scan_id 9000000000000000000 + (:stamp * 1000 + :client_id) * 1000000 + :n",
            # Two round trips, as scanning.managers.ScanTransaction sends them: BEGIN with the first
            # statement, COMMIT with the last (pgbench's \; puts two statements in one query).
            rf"BEGIN \; {state};",
            rf"{write} \; COMMIT;",
        ]
    )


# A typical reply body, the size the app stores with every link.
REPLY_BODY = {
    "ok": True,
    "code": "linked",
    "message": "BN000000000100000001 added to SB12345: 12 of 30.",
    "parent": {"qr_id": "SB12345", "product": "Mustard", "child_count": 12, "capacity": 30, "complete": False},
}
RESERVE_IDS_SQL = """
SELECT setval(seq, GREATEST(nextval(seq), (SELECT COALESCE(MAX(id), 0) + 1 FROM bags_bag)) + %(count)s - 1)
FROM (SELECT pg_get_serial_sequence('bags_bag', 'id')::regclass AS seq) AS s
"""
TAKEN_NUMBERS_SQL = """
SELECT substr(qr_id, length(%(prefix)s) + 1)::bigint FROM bags_bag
WHERE qr_id LIKE %(like)s AND qr_id ~ %(regex)s
"""
# pgbench's parents: ``count`` free numbers in a row, ``top`` down (none below 10^(digits-1): no padding).
COUNT_TAKEN_SQL = """
SELECT count(*) FROM bags_bag
WHERE qr_id IN (SELECT %(prefix)s || (%(top)s - i)::text FROM generate_series(0::bigint, %(count)s - 1) AS i)
"""
CREATE_RAW_PARENTS_SQL = f"""
INSERT INTO bags_bag (id, qr_id, kind, product_id, dispatch_area_id, created_by_id, child_count, completed_at,
                      created_at, updated_at)
SELECT %(first)s + i, %(prefix)s || (%(top)s - i)::text, {BagKind.PARENT.literal}, %(product_id)s, %(area_id)s,
       %(user_id)s, 0, NULL, now(), now()
FROM generate_series(0::bigint, %(count)s - 1) AS i
"""  # noqa: S608 (only an enum literal is put in)
RAW_CHECK_SQL = f"""
SELECT (SELECT count(*) FROM bags_link WHERE created_by_id = %(user_id)s),
       (SELECT max(child_count) FROM bags_bag WHERE created_by_id = %(user_id)s AND kind = {BagKind.PARENT.literal})
"""  # noqa: S608 (only an enum literal is put in)
DELETE_RAW_ROWS_SQL = (
    "DELETE FROM scanning_scanreply WHERE user_id = %(user_id)s",
    "DELETE FROM scanning_scan WHERE user_id = %(user_id)s",
    "DELETE FROM bags_link WHERE created_by_id = %(user_id)s",
    "DELETE FROM bags_bag WHERE created_by_id = %(user_id)s",
)


def delete_raw_rows(database_url: str, target: RawTarget) -> None:
    with psycopg.connect(database_url) as conn, conn.transaction():
        for sql in DELETE_RAW_ROWS_SQL:
            conn.execute(sql, {"user_id": target.user_id})


def raw_target(database_url: str, dispatchers: Dispatchers) -> RawTarget:
    with psycopg.connect(database_url) as conn:
        product_id, prefix, digits, capacity = conn.execute(
            "SELECT id, parent_prefix, parent_digits, capacity FROM bags_product WHERE code = 'mustard'"
        ).fetchone()
    return RawTarget(dispatchers.raw_user_id, dispatchers.area_id, product_id, prefix, digits, capacity)


def pgbench_fitting_clients(database_url: str, wanted: int) -> int:
    """Clients that fit in max_connections next to what is connected now (other databases too)."""
    with psycopg.connect(database_url) as conn:
        (limit,) = conn.execute("SELECT current_setting('max_connections')::int").fetchone()
        (reserved,) = conn.execute("SELECT current_setting('superuser_reserved_connections')::int").fetchone()
        (used,) = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'").fetchone()
    return max(1, min(wanted, limit - reserved - used - 5))


def pgbench_command(database_url: str, mode: str, script: Path, options: list[str]) -> list[str]:
    conninfo = psycopg.conninfo.conninfo_to_dict(database_url)
    return [
        "pgbench",
        "-n",
        "-M",
        mode,
        *options,
        "-f",
        str(script),
        "-h",
        conninfo.get("host", "127.0.0.1"),
        "-p",
        str(conninfo.get("port", 5432)),
        "-U",
        conninfo.get("user", "postgres"),
        conninfo["dbname"],
    ]


def pgbench_env(database_url: str) -> dict[str, str]:
    password = psycopg.conninfo.conninfo_to_dict(database_url).get("password")
    return {**os.environ, **({"PGPASSWORD": password} if password else {})}


def run_pgbench(
    *,
    name: str,
    clients: int,
    seconds: int,
    database_url: str,
    target: RawTarget,
    out: Path,
    keep_log: bool = True,
) -> Result:
    files = slug(name)
    script_path = out / f"{files}.sql"
    script_path.write_text(pgbench_script(database_url, target, body=REPLY_BODY))
    per_client = math.ceil(MAX_PGBENCH_TPS * seconds / clients / target.capacity) + 1
    count = per_client * clients
    delete_raw_rows(database_url, target)
    top = free_block(database_url, target, count)
    codes = {"prefix": target.prefix, "top": top, "count": count}
    with psycopg.connect(database_url) as conn, conn.transaction():
        (taken,) = conn.execute(COUNT_TAKEN_SQL, codes).fetchone()
        if taken:
            raise SystemExit(f"{taken} of {target.prefix}{top - count + 1}..{top}, kept for pgbench, are taken")
        (last,) = conn.execute(RESERVE_IDS_SQL, {"count": count}).fetchone()
        first = last - count + 1
        conn.execute(
            CREATE_RAW_PARENTS_SQL,
            {
                **codes,
                "first": first,
                "product_id": target.product_id,
                "area_id": target.area_id,
                "user_id": target.user_id,
            },
        )
    variables = {
        "n": 0,
        "first_parent_id": first,
        "top_parent_no": top,
        "parents_per_client": per_client,
        "capacity": target.capacity,
        "stamp": first % 10_000_000,
        "user_id": target.user_id,
        "area_id": target.area_id,
    }
    log_prefix = out / f"{files}-log"
    options = ["-c", str(clients), "-j", "2", "-T", str(seconds)]
    options += [f"--log-prefix={log_prefix}", "-l"] if keep_log else []
    options += [arg for key, value in variables.items() for arg in ("-D", f"{key}={value}")]
    argv = pgbench_command(database_url, "simple", script_path, options)
    for old in out.glob(f"{log_prefix.name}.*"):
        old.unlink()
    pgbench = subprocess.Popen(
        argv, cwd=out, env=pgbench_env(database_url), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    sampler = CpuSampler(database_url, {"pgbench": pgbench.pid})
    sampler.start()
    started = time.time()
    try:
        output, errors = pgbench.communicate()
    finally:
        stop_process(pgbench)
        sampler.stop()
    ended = time.time()
    (out / f"{files}.txt").write_text(output + errors)
    with psycopg.connect(database_url) as conn:
        linked, fullest = conn.execute(RAW_CHECK_SQL, {"user_id": target.user_id}).fetchone()
    delete_raw_rows(database_url, target)
    if pgbench.returncode != 0 or "tps =" not in output:
        raise SystemExit(f"pgbench failed ({pgbench.returncode}): {errors.strip()[-2000:]}")
    tps = float(re.search(r"tps = ([\d.]+)", output).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", output)
    processed = int(re.search(r"number of transactions actually processed: (\d+)", output).group(1))
    result = Result(
        scenario=name,
        clients=clients,
        scans_per_second=tps,
        child_per_second=tps,
        p50=float("nan"),
        p95=float("nan"),
        p99=float("nan"),
        errors=int(failed.group(1)) if failed else 0,
        requests=processed,
        seconds=seconds,
        command=shlex.join(argv),
    )
    if keep_log:
        logs = list(out.glob(f"{log_prefix.name}.*"))
        # Per transaction: client, number, latency in microseconds, ...
        latencies = sorted(int(line.split()[2]) / 1000 for path in logs for line in path.open())
        for path in logs:
            path.unlink()  # a line per transaction: megabytes, and the percentiles are kept
        result.p50, result.p95, result.p99 = (percentile(latencies, q) for q in (0.50, 0.95, 0.99))
    # A second off each end: connecting, and the last transactions.
    result.cpu = sampler.between(started + 1, ended - 1)
    if linked != processed:
        result.notes.append(f"{linked:,} links written for {processed:,} transactions")
    if (fullest or 0) > target.capacity:
        result.notes.append(f"a parent got {fullest} children (capacity {target.capacity}): raise MAX_PGBENCH_TPS")
    return result


def free_block(database_url: str, target: RawTarget, count: int) -> int:
    """The highest number that starts (from the top) ``count`` free parent numbers in a row."""
    regex = f"^{re.escape(target.prefix)}[0-9]{{{target.digits}}}$"
    with psycopg.connect(database_url) as conn:
        taken = {
            n
            for (n,) in conn.execute(
                TAKEN_NUMBERS_SQL, {"prefix": target.prefix, "like": f"{target.prefix}%", "regex": regex}
            )
        }
    lowest = 10 ** (target.digits - 1)
    top = 10**target.digits - 1
    while top - count + 1 >= lowest:
        clash = max((n for n in taken if top - count + 1 <= n <= top), default=None)
        if clash is None:
            return top
        top = clash - 1
    raise SystemExit(f"no {count:,} free {target.prefix} parent numbers in a row for pgbench: fewer --seconds")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, math.floor(q * len(values)))]


def prepared_problem(database_url: str, target: RawTarget, out: Path) -> str | None:
    """Why the app's statements cannot run under pgbench -M prepared (None if they can): one transaction,
    rolled back, with every parameter a pgbench variable."""
    # A new child: the app's client-side binding sends child_id as a NULL literal too.
    statements = [
        " ".join(re.sub(r"%\((\w+)\)s", r":\1", sql).replace(":child_id", "NULL").split()) + ";"
        for sql in (CHILD_SCAN_STATE_SQL, LINK_CHILD_SQL)
    ]
    script = out / "pgbench-prepared-check.sql"
    script.write_text("\n".join(["BEGIN;", *statements, "ROLLBACK;"]) + "\n")
    values = {
        "client_scan_id": "prepared-check",
        "parent_qr": f"{target.prefix}{10**target.digits - 1}",
        "child_qr": "PREPAREDCHECK",
        "parent_id": "0",
        "user_id": str(target.user_id),
        "area_id": str(target.area_id),
        "capacity": str(target.capacity),
        "body": json.dumps(REPLY_BODY),
    }
    options = ["-t", "1"] + [arg for key, value in values.items() for arg in ("-D", f"{key}={value}")]
    check = subprocess.run(
        pgbench_command(database_url, "prepared", script, options),
        env=pgbench_env(database_url),
        capture_output=True,
        text=True,
    )
    failed = re.search(r"number of failed transactions: (\d+)", check.stdout)
    if check.returncode == 0 and "aborted" not in check.stderr and not (failed and int(failed.group(1))):
        return None
    lines = [line for line in check.stderr.splitlines() if "ERROR" in line]
    return (lines[0].split("ERROR:", 1)[1] if lines else check.stderr.strip()[-300:]).strip()


# --- Report ------------------------------------------------------------------------------------------


def fmt(value: float, digits: int = 0) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,.{digits}f}"


def table(results: list[Result]) -> str:
    head = (
        f"{'scenario':30} {'clients':>7} {'scans/s':>8} {'child/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}"
        f" {'errors':>7} {'app/raw':>7}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r.scenario:30} {r.clients:7d} {fmt(r.scans_per_second):>8} {fmt(r.child_per_second):>8}"
            f" {fmt(r.p50, 1):>7} {fmt(r.p95, 1):>7} {fmt(r.p99, 1):>7} {r.errors:7d}"
            f" {fmt(r.ratio, 2) if r.ratio is not None else '':>7}"
        )
    return "\n".join(lines)


def cpu_table(results: list[Result]) -> str:
    parts = ["app", "postgres", "wrk", "pgbench", "redis", "other"]
    head = (
        f"{'CPU, cores busy (of 2)':30} "
        + " ".join(f"{p:>8}" for p in parts)
        + f" {'app ms/scan':>11} {'db ms/scan':>10}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        per_scan = r.scans_per_second or float("nan")
        app_ms, db_ms = (r.cpu.get(part, 0.0) * 1000 / per_scan for part in ("app", "postgres"))
        lines.append(
            f"{r.scenario:30} "
            + " ".join(f"{fmt(r.cpu.get(p, 0.0), 2):>8}" for p in parts)
            + f" {fmt(app_ms, 2):>11} {fmt(db_ms, 2):>10}"
        )
    return "\n".join(lines)


# --- Main --------------------------------------------------------------------------------------------


@dataclass
class ScanRun:
    """Everything one run of the scan scenarios measured, for report()."""

    bags: int
    app_results: list[Result]
    raw_results: list[Result]
    profiled: Result | None
    prepared: str | None
    logs: list[Path]
    app_command: str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dispatchers", default="50,200", help="full-speed scenarios: dispatchers, comma-separated")
    parser.add_argument("--seconds", type=int, default=30, help="measured seconds per full-speed scenario")
    parser.add_argument("--warmup", type=int, default=10, help="seconds of scanning before measuring")
    parser.add_argument("--rate-test", action="store_true", help="also: RATE_USERS dispatchers x 1 scan/s")
    parser.add_argument("--rate-users", type=int, default=200)
    parser.add_argument("--rate-seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (WEB_CONCURRENCY)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also: one more full-speed run with py-spy on the workers (not in the table)",
    )


def run(args: argparse.Namespace, database_url: str, out: Path) -> ScanRun:
    """The scan scenarios: logins, then per dispatcher count pgbench, the app, pgbench; the rate test."""
    dispatchers = [int(n) for n in args.dispatchers.split(",") if n.strip()]
    ensure_bench_requirements()
    bags = ensure_database(database_url)
    wanted = max([*dispatchers, args.rate_users if args.rate_test else 0, 50 if args.profile else 0])
    users = ensure_dispatchers(database_url, wanted)
    target = raw_target(database_url, users)
    delete_raw_rows(database_url, target)  # left by an interrupted run
    print(f"database {database_url}: {bags:,} bags; results in {out.relative_to(ROOT)}", flush=True)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")

    # Each app run is bracketed by pgbench runs of the same transaction (the app stopped meanwhile), and
    # its ratio is taken against their mean: this machine's speed drifts by tens of percent within minutes.
    ids = [0]
    app = Gunicorn(database_url, args.workers, out / "gunicorn-logins.log")
    print("app:", app.command, flush=True)
    with app:
        sessions = log_in_dispatchers(app.url, wanted)
    logs = [app.log_path]

    def app_run(name: str, users: int, rate: float, seconds: int, profile: bool = False) -> Result:
        app = Gunicorn(database_url, args.workers, out / f"gunicorn-{slug(name)}.log")
        logs.append(app.log_path)
        with app:
            return run_wrk(
                name=name,
                sessions=sessions[:users],
                rate=rate,
                seconds=seconds,
                warmup=args.warmup,
                app=app,
                database_url=database_url,
                out=out,
                ids=ids,
                profile=profile,
            )

    app_results: list[Result] = []
    raw_results: list[Result] = []
    for n in dispatchers:
        clients = pgbench_fitting_clients(database_url, n)
        common = {"clients": clients, "database_url": database_url, "target": target, "out": out}
        print(f"raw: pgbench -M simple, the child-scan transaction, {clients} clients", flush=True)
        run_pgbench(name=f"pgbench warm-up x{clients}", seconds=min(5, args.warmup) or 1, keep_log=False, **common)
        before = run_pgbench(name=f"pgbench x{clients} before", seconds=args.seconds, **common)
        result = app_run(f"app full speed x{n}", n, 0, args.seconds)
        print(f"raw: pgbench again, {clients} clients", flush=True)
        after = run_pgbench(name=f"pgbench x{clients} after", seconds=args.seconds, **common)
        result.ratio = result.scans_per_second / ((before.scans_per_second + after.scans_per_second) / 2)
        if clients < n:
            after.notes.append(f"{n} clients do not fit in max_connections next to the open ones: ran {clients}")
        app_results.append(result)
        raw_results += [before, after]
    if args.rate_test:
        app_results.append(app_run(f"app {args.rate_users} x 1 scan/s", args.rate_users, 1, args.rate_seconds))
    profiled = app_run("profile x50", 50, 0, args.seconds, profile=True) if args.profile else None
    prepared = prepared_problem(database_url, target, out)
    return ScanRun(bags, app_results, raw_results, profiled, prepared, logs, app.command)


def report(scans: ScanRun, args: argparse.Namespace) -> list[str]:
    app_results, profiled, prepared = scans.app_results, scans.profiled, scans.prepared
    results = [*app_results, *scans.raw_results]
    report = [
        f"TraitorTrack scan loop, {datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} cores, {scans.bags:,} bags,"
        f" gunicorn {args.workers} gevent workers; warm-up {args.warmup} s, then {args.seconds} s measured"
        + (f" ({args.rate_seconds} s for the rate test)" if args.rate_test else ""),
        "",
        table(results),
        "",
        "scans/s = parent opens + child scans answered per second (any answer); errors = answers other than"
        " 200 ok=true and socket errors; latencies as each dispatcher waits for its answer (wrk, bench/scan.lua:"
        " from handing the request to the socket to reading the answer); app/raw = app scans/s / the mean of"
        " the pgbench -M simple tps just before and just after it, at the same number of clients.",
        "pgbench -M simple sends the statements as the app does (Django binds on the client side: literals,"
        " parsed and planned each time). -M prepared/extended: "
        + (f"the app's SQL cannot run there ({prepared})." if prepared else "runs, not measured (codes are text)."),
        "wrk (like pgbench) runs on the same 2 cores as the app and the database: its share is in the CPU table.",
        "",
        cpu_table(results),
        "",
    ]
    for r in results:
        for note in r.notes:
            report.append(f"note ({r.scenario}): {note}")
        if r.error_codes:
            codes = ", ".join(f"{k} x{v}" for k, v in sorted(r.error_codes.items(), key=lambda kv: -kv[1]))
            report.append(f"errors ({r.scenario}): {codes}")
    for r in app_results:
        ms = {part: r.cpu.get(part, 0.0) * 1000 / max(r.scans_per_second, 1e-9) for part in ("app", "postgres", "wrk")}
        rate = r.scans_per_second
        if "scan/s" in r.scenario and rate < 0.95 * r.clients:
            report.append(f"note ({r.scenario}): asked for {r.clients} scans/s, served {rate:.0f}/s: over capacity")
        cost = (
            f"what a scan costs ({r.scenario}): {ms['app']:.1f} ms of app CPU + {ms['postgres']:.1f} ms of PostgreSQL"
            f" + {ms['wrk']:.1f} ms of wrk"
        )
        if "scan/s" not in r.scenario:
            # A closed loop: each dispatcher waits for its answer, so the mean answer time is N / throughput.
            cost += (
                f"; {r.clients} dispatchers / {rate:.0f} scans/s = {1000 * r.clients / max(rate, 1e-9):.0f} ms a"
                " round (Little's law): the latency above those few ms is waiting for the 2 cores"
            )
        report.append(cost)
    full = [r for r in app_results if r.ratio is not None]
    if full:
        worst = min(full, key=lambda r: r.ratio)
        report.append(
            f"target ratio >= 0.40 at full speed: {'met' if worst.ratio >= 0.40 else 'NOT met'}"
            f" (lowest {worst.ratio:.2f}, {worst.scenario})"
        )
    for r in app_results:
        if "scan/s" in r.scenario:
            met = r.p99 < 100 and r.errors == 0
            report.append(
                f"target p99 < 100 ms and 0 errors at {r.scenario}: {'met' if met else 'NOT met'}"
                f" (p99 {r.p99:.0f} ms, {r.errors} errors)"
            )
    if profiled:
        report += ["", f"{profiled.scenario}: {profiled.scans_per_second:,.0f} scans/s under py-spy", profiled.profile]
    for r in app_results:
        report.append(
            f"gunicorn log in the window of {r.scenario}: "
            + ("; ".join(r.server_log) if r.server_log else "no errors, tracebacks, timeouts or restarts")
        )
    problems = [p for log in scans.logs for p in log_problems(log.read_text(errors="replace"), args.workers)]
    report.append(
        "gunicorn logs, whole run (logins and warm-ups too): "
        + ("; ".join(problems) if problems else "no errors, tracebacks, timeouts or restarts")
    )
    report += ["", "commands:", f"  {scans.app_command}"] + [f"  {r.command}" for r in results]
    if profiled:
        report.append(f"  py-spy record --pid WORKER --duration {args.seconds} --rate 100 --format raw --nonblocking")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(parser)
    args = parser.parse_args()
    # A SIGTERM unwinds like Ctrl-C, so gunicorn, wrk and pgbench are stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    out = ROOT / "bench" / "results" / f"scan_loop-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True)
    scans = run(args, database_url, out)
    text = "\n".join(report(scans, args))
    print("\n" + text)
    (out / "summary.txt").write_text(text + "\n")
    results = [*scans.app_results, *scans.raw_results]
    (out / "summary.json").write_text(json.dumps([asdict(r) for r in results], indent=2, default=str))


LOG_PATTERNS = (
    (re.compile(r"Internal Server Error: (\S+)"), "HTTP 500 on {0}"),
    (re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Timeout)): (.{0,90})"), "{0}: {1}"),
    (re.compile(r"(WORKER TIMEOUT|Worker exited|CRITICAL)"), "{0}"),
    (re.compile(r"ERROR (?!django\.request)(.{0,120})"), "ERROR {0}"),
    (re.compile(r"(Booting worker)"), "{0}"),
)


def log_problems(text: str, workers: int | None = None) -> list[str]:
    """Errors (each 500 by path, each exception by type and message), timeouts and worker restarts in
    a piece of gunicorn's log, counted."""
    counts: dict[str, int] = {}
    for line in text.splitlines():
        for pattern, template in LOG_PATTERNS:
            match = pattern.search(line)
            if match:
                key = template.format(*match.groups())
                counts[key] = counts.get(key, 0) + 1
                break
    # The first workers boot at start; more boots are restarts (max_requests, or a crash).
    boots = counts.pop("Booting worker", 0) - (workers or 0)
    if boots > 0:
        counts["worker restarts"] = boots
    return [f"{key} x{n}" for key, n in sorted(counts.items(), key=lambda kv: -kv[1])]


if __name__ == "__main__":
    main()
