"""Fault drills in one command: under 50 dispatchers' load, PostgreSQL, Redis and the app servers fail in turn.

    .venv/bin/python bench/faults.py [--only NAME[,NAME]] [--dispatchers 50] [--rate 2] [--before 10] [--after 15]
    .venv/bin/python bench/faults.py --report bench/results/faults-<time>   # its table again

Sets up everything it needs and removes it after, touching nothing of the machine's (its PostgreSQL on 5432 and
Redis on 6379 are left alone): a PostgreSQL 15 cluster made with initdb in a temporary folder on a free port
(run as the user ``postgres`` when started as root, since PostgreSQL refuses root), migrated and seeded with a
few thousand bags; a redis-server on a free port; two app servers (gunicorn -c traitortrack/gunicorn.conf.py,
WEB_CONCURRENCY=2 each) behind haproxy with the repo's traitortrack/haproxy.cfg.

The load: ``--dispatchers`` logged in through the login form, each a thread with a keep-alive connection to
haproxy, scanning ``--rate`` times a second (a parent, then CHILDREN_PER_PARENT children into it, then the
next parent), each scan with a new client scan id. As the scan page does (static/js/scan.js), an attempt
that gets no answer within its REQUEST_TIMEOUT_MS (10 s), a 429, a 5xx or no JSON answer is sent again with
the same client scan id: after the Retry-After the answer gave, or a second (the page waits RETRY_MS; a
shorter wait makes the figures say more precisely when service came back). Every attempt is recorded: when it
was sent and answered, its status, its Retry-After.

The drills, each in turn under its own run of the load (``--before`` s of load, the fault, ``--after`` s):

    pg-restart    pg_ctl restart -m fast
    pg-stop       PostgreSQL stopped for --pg-stop-seconds (20), then started
    redis-stop    redis-server stopped for --redis-stop-seconds (30), then started (empty, as after a crash)
    worker-kill   one gunicorn worker of server a SIGKILLed (its master starts another)
    redeploy      server a's master sent HUP: new workers with the code as it is on disk, the old ones drained
    server-stop   server a stopped (SIGTERM) for --server-stop-seconds (10), then started again

Then each dispatcher finishes the scan it is on (until answered), and the database is checked against every
acknowledged client scan id: each has exactly one Scan row (none lost), no child was linked twice, and every
parent's child_count equals its links. Scans recorded whose answer the client never got are counted too (none
expected, since every scan is sent until answered; not a fault: a retry is answered from ScanReply).

One table: how long the fault lasted (until PostgreSQL accepted connections again, the server answered
again...), the failure window (first failed attempt sent to last failed one answered, and when the failed ones
were sent, from the fault's start), how long after the fault ended the last failure was answered, the statuses
seen (code x count; "timeout" is the client's 10 s, "conn" a connection closed or refused before an answer),
503s without Retry-After, p99 of the attempts sent before, during and after (see summarise), the slowest
attempt during, and the database check. Results (the table, every attempt as CSV, the servers' logs) go to
bench/results/faults-<time>/.
"""

import argparse
import csv
import http.client
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil
import psycopg
import scan_loop
from gunicorn_app import free_port
from scan_loop import ROOT, Session, stop_process

PG_BIN = Path("/usr/lib/postgresql/15/bin")
VENV_BIN = Path(sys.executable).parent
SEED_BAGS = 3000
CHILDREN_PER_PARENT = 20  # below every product's capacity: a parent never fills up mid-drill
# static/js/scan.js REQUEST_TIMEOUT_MS: the scan page gives up on an attempt after this long.
CLIENT_TIMEOUT_SECONDS = 10.0
RETRY_SECONDS = 1.0  # when the answer names no Retry-After (a timeout, a reset)
FINISH_SECONDS = 60  # longest a dispatcher keeps retrying its last scan after the load stops
RETRIED = {429}  # and every 5xx, as the page does: "a 500 is a server bug", the scan waits
TIMEOUT, CONN = 0, -1  # statuses of attempts that got no answer
SECRET_KEY = "faults-drill-not-secret"  # noqa: S105 (both servers must share one: sessions, CSRF)


# --- The servers ------------------------------------------------------------------------------------


def as_postgres(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, its commands run as the user ``postgres``."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


class Postgres:
    """A cluster of its own: initdb in ``folder``, listening on 127.0.0.1 on a free port."""

    def __init__(self, folder: Path) -> None:
        self.data = folder / "pgdata"
        self.log = folder / "postgresql.log"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/traitortrack"
        folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), *args]),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def create(self) -> None:
        subprocess.run(
            as_postgres(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        # In its own configuration, so every start and restart uses them (never the default port 5432).
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.data}'\n"
                "max_connections = 100\n"
            )
        self.start()
        with psycopg.connect(self.url.replace("/traitortrack", "/postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE traitortrack")

    def start(self) -> None:
        self._ctl("-w", "start")

    def stop(self) -> None:
        self._ctl("-w", "-m", "fast", "stop")

    def restart(self) -> None:
        self._ctl("-w", "-m", "fast", "restart")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._ctl("-w", "-m", "immediate", "stop")


class Redis:
    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.folder = folder
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        with (self.folder / "redis.log").open("a") as log:
            self.process = subprocess.Popen([*argv, "--dir", str(self.folder)], stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: answers_tcp(self.port), 10, "redis-server did not start")

    def stop(self) -> None:
        if self.process:
            stop_process(self.process)


class AppServer:
    """gunicorn as in production (traitortrack/gunicorn.conf.py, gevent workers, the pool, Redis)."""

    def __init__(self, name: str, folder: Path, database_url: str, redis_url: str, workers: int) -> None:
        self.name = name
        self.port = free_port()
        self.log_path = folder / f"gunicorn-{name}.log"
        self.env = {key: value for key, value in os.environ.items() if key not in ("DEBUG", "DB_POOL_MAX_SIZE")}
        self.env.update(
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            WEB_CONCURRENCY=str(workers),
            SECRET_KEY=SECRET_KEY,
            BIND=f"127.0.0.1:{self.port}",
            GUNICORN_ACCESS_LOG="",
        )
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        argv = [
            str(VENV_BIN / "gunicorn"),
            "-c",
            "traitortrack/gunicorn.conf.py",
            "--no-control-socket",
            "traitortrack.wsgi",
        ]
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        wait_until(
            lambda: answers_http(self.port, "/health"), 60, f"app server {self.name} did not start", self.process
        )

    def workers(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children()

    def stop(self) -> None:
        if self.process:
            stop_process(self.process, timeout=30)  # graceful_timeout is 20 s


class LoadBalancer:
    """haproxy with traitortrack/haproxy.cfg, its addresses from the environment."""

    def __init__(self, folder: Path, servers: list[AppServer]) -> None:
        self.port = free_port()
        self.socket = folder / "haproxy.sock"
        self.log_path = folder / "haproxy.log"
        self.env = {
            **os.environ,
            "TT_LB_BIND": f"127.0.0.1:{self.port}",
            "TT_LB_SOCKET": str(self.socket),
            "TT_APP_A": f"127.0.0.1:{servers[0].port}",
            "TT_APP_B": f"127.0.0.1:{servers[1].port}",
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        argv = ["haproxy", "-db", "-f", str(ROOT / "traitortrack" / "haproxy.cfg")]
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        wait_until(
            lambda: self.up() == {"a", "b"},
            15,
            f"haproxy did not see both servers up (see {self.log_path})",
            self.process,
        )

    def up(self) -> set[str]:
        """The servers haproxy sends requests to (its runtime API, "show stat")."""
        try:
            lines = self.command("show stat").splitlines()
        except OSError:
            return set()
        rows = csv.DictReader([lines[0].lstrip("# "), *lines[1:]])
        return {
            row["svname"]
            for row in rows
            if row["pxname"] == "app" and row["svname"] != "BACKEND" and row["status"] == "UP"
        }

    def command(self, text: str) -> str:
        import socket

        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.socket))
            sock.sendall(text.encode() + b"\n")
            return b"".join(iter(lambda: sock.recv(65536), b"")).decode()

    def stop(self) -> None:
        if self.process:
            stop_process(self.process)


def answers_tcp(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def answers_http(port: int, path: str) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False


def wait_until(
    condition: Callable[[], bool], seconds: float, failure: str, process: subprocess.Popen | None = None
) -> None:
    """Until ``condition()``; SystemExit(failure) after ``seconds`` or when ``process`` has exited."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline or (process is not None and process.poll() is not None):
            raise SystemExit(failure)
        time.sleep(0.2)


# --- The load ---------------------------------------------------------------------------------------


@dataclass
class Attempt:
    client_scan_id: str
    sent: float
    answered: float
    status: int  # TIMEOUT, CONN, or the HTTP status
    retry_after: str | None


@dataclass
class Load:
    """The dispatchers' threads and what they saw."""

    attempts: list[Attempt] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)  # answered ok: must be in the database once
    refused: Counter = field(default_factory=Counter)  # answered with a refusal (none expected)
    sent_ids: set[str] = field(default_factory=set)
    unfinished: set[str] = field(default_factory=set)  # still unanswered after FINISH_SECONDS
    lock: threading.Lock = field(default_factory=threading.Lock)


class Dispatcher(threading.Thread):
    def __init__(
        self,
        number: int,
        session: Session,
        parents: list[str],
        port: int,
        run_id: str,
        interval: float,
        stop: threading.Event,
        load: Load,
    ) -> None:
        super().__init__(daemon=True)
        self.number, self.session, self.parents, self.port = number, session, parents, port
        self.run_id, self.interval, self.stop, self.load = run_id, interval, stop, load
        self.connection: http.client.HTTPConnection | None = None
        self.serial = 0
        self.start_after = 0.0  # spreads the dispatchers' scans over each interval
        self.headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-CSRFToken": session.csrftoken,
            "Cookie": f"sessionid={session.sessionid}; csrftoken={session.csrftoken}",
        }

    def scans(self):
        for parent in self.parents:
            yield "/api/scan/parent", {"code": parent}
            for _ in range(CHILDREN_PER_PARENT):
                self.serial += 1
                code = f"F{self.run_id}{self.number:02d}{self.serial:06d}"
                yield "/api/scan/child", {"parent": parent, "code": code}

    def run(self) -> None:
        due = time.monotonic() + self.start_after
        for path, body in self.scans():
            if self.stop.is_set():
                return
            time.sleep(max(0.0, due - time.monotonic()))
            self.serial += 1
            body = {"client_scan_id": f"f{self.run_id}-{self.number:02d}-{self.serial:06d}", **body}
            self.send_until_answered(path, body)
            due = max(due + self.interval, time.monotonic() - self.interval)
        raise SystemExit(f"dispatcher {self.number} ran out of parents")

    def send_until_answered(self, path: str, body: dict) -> None:
        client_scan_id = body["client_scan_id"]
        with self.load.lock:
            self.load.sent_ids.add(client_scan_id)
        give_up = None
        while True:
            status, retry_after, answer = self.attempt(path, body)
            if status not in RETRIED and 0 < status < 500 and isinstance(answer, dict) and "ok" in answer:
                with self.load.lock:
                    if answer["ok"]:
                        self.load.acknowledged.add(client_scan_id)
                    else:
                        self.load.refused[f"{status} {answer.get('code')}"] += 1
                return
            if self.stop.is_set():
                give_up = give_up or time.monotonic() + FINISH_SECONDS
                if time.monotonic() > give_up:
                    with self.load.lock:
                        self.load.unfinished.add(client_scan_id)
                    return
            try:
                wait = float(retry_after) if retry_after else RETRY_SECONDS
            except ValueError:
                wait = RETRY_SECONDS
            time.sleep(wait)

    def attempt(self, path: str, body: dict) -> tuple[int, str | None, object]:
        if self.connection is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=CLIENT_TIMEOUT_SECONDS)
        sent = time.monotonic()
        retry_after, answer = None, None
        try:
            self.connection.request("POST", path, body=json.dumps(body), headers=self.headers)
            response = self.connection.getresponse()
            content = response.read()
            status, retry_after = response.status, response.getheader("Retry-After")
            try:
                answer = json.loads(content)
            except ValueError:
                answer = None
        except TimeoutError:
            status = TIMEOUT
        except (OSError, http.client.HTTPException):
            status = CONN
        if status <= 0:
            self.connection.close()
            self.connection = None
        with self.load.lock:
            self.load.attempts.append(Attempt(body["client_scan_id"], sent, time.monotonic(), status, retry_after))
        return status, retry_after, answer


# --- The drills -------------------------------------------------------------------------------------


@dataclass
class Rig:
    postgres: Postgres
    redis: Redis
    servers: list[AppServer]
    balancer: LoadBalancer


def pg_restart(rig: Rig, args) -> None:
    rig.postgres.restart()


def pg_stop(rig: Rig, args) -> None:
    rig.postgres.stop()
    time.sleep(args.pg_stop_seconds)
    rig.postgres.start()


def redis_stop(rig: Rig, args) -> None:
    rig.redis.stop()
    time.sleep(args.redis_stop_seconds)
    rig.redis.start()


def worker_kill(rig: Rig, args) -> None:
    server = rig.servers[0]
    before = {worker.pid for worker in server.workers()}
    os.kill(min(before), signal.SIGKILL)
    wait_until(lambda: len(server.workers()) == len(before), 30, "the killed worker was not replaced")


def redeploy(rig: Rig, args) -> None:
    server = rig.servers[0]
    before = {worker.pid for worker in server.workers()}
    server.process.send_signal(signal.SIGHUP)

    def replaced() -> bool:
        now = {worker.pid for worker in server.workers()}
        return len(now) == len(before) and not now & before

    wait_until(replaced, 60, "HUP did not replace the workers")


def server_stop(rig: Rig, args) -> None:
    server = rig.servers[0]
    server.stop()
    time.sleep(args.server_stop_seconds)
    server.start()
    wait_until(lambda: "a" in rig.balancer.up(), 30, "haproxy did not take server a back")


DRILLS: dict[str, tuple[str, Callable[[Rig, argparse.Namespace], None]]] = {
    "pg-restart": ("PostgreSQL restart (pg_ctl restart -m fast)", pg_restart),
    "pg-stop": ("PostgreSQL stopped {pg_stop_seconds} s", pg_stop),
    "redis-stop": ("Redis stopped {redis_stop_seconds} s", redis_stop),
    "worker-kill": ("a worker of server a SIGKILLed", worker_kill),
    "redeploy": ("server a redeployed (HUP)", redeploy),
    "server-stop": ("server a stopped {server_stop_seconds} s (SIGTERM), started", server_stop),
}


@dataclass
class Outcome:
    name: str
    title: str
    load: Load
    fault_start: float
    fault_end: float
    check: dict


def run_drill(name: str, rig: Rig, sessions: list[Session], args, run_serial: int) -> Outcome:
    title = DRILLS[name][0].format(**vars(args))
    print(f"drill {name}: {title}", flush=True)
    per_dispatcher = math.ceil(args.rate * (args.before + args.after + 90) / (CHILDREN_PER_PARENT + 1)) + 1
    codes = scan_loop.free_parent_codes(rig.postgres.url, per_dispatcher * len(sessions))
    load, stop = Load(), threading.Event()
    run_id = f"{int(time.time()) % 100000:05d}{run_serial}"
    dispatchers = [
        Dispatcher(n, session, codes[n :: len(sessions)], rig.balancer.port, run_id, 1 / args.rate, stop, load)
        for n, session in enumerate(sessions)
    ]
    for dispatcher in dispatchers:
        dispatcher.start_after = dispatcher.number * dispatcher.interval / len(dispatchers)
        dispatcher.start()
    time.sleep(args.before)
    fault_start = time.monotonic()
    DRILLS[name][1](rig, args)
    fault_end = time.monotonic()
    time.sleep(args.after)
    stop.set()
    for dispatcher in dispatchers:
        dispatcher.join()
    check = check_database(rig.postgres.url, load, run_id)
    return Outcome(name, title, load, fault_start, fault_end, check)


CHECK_SQL = """
SELECT
  (SELECT count(*) FROM scanning_scan WHERE client_scan_id = ANY(%(acknowledged)s)),
  (SELECT count(*) FROM scanning_scan
     WHERE client_scan_id LIKE %(prefix)s AND NOT client_scan_id = ANY(%(acknowledged)s)),
  (SELECT count(*) FROM (SELECT bag_id FROM scanning_scan WHERE client_scan_id LIKE %(prefix)s AND action = 'link'
                         GROUP BY bag_id HAVING count(*) > 1) AS twice),
  (SELECT count(*) FROM bags_bag AS p WHERE p.kind = 'parent'
     AND p.child_count <> (SELECT count(*) FROM bags_link AS l WHERE l.parent_id = p.id))
"""


def check_database(database_url: str, load: Load, run_id: str) -> dict:
    """Every acknowledged client scan id against the scans table (client_scan_id is unique there, so
    "found" counts each id at most once: fewer is a lost scan), children linked twice, counts against links."""
    acknowledged = sorted(load.acknowledged)
    with psycopg.connect(database_url) as conn:
        found, unacknowledged, twice, miscounted = conn.execute(
            CHECK_SQL, {"acknowledged": acknowledged, "prefix": f"f{run_id}-%"}
        ).fetchone()
    return {
        "acknowledged": len(acknowledged),
        "lost": len(acknowledged) - found,
        "recorded_unacknowledged": unacknowledged,
        "linked_twice": twice,
        "miscounted_parents": miscounted,
        "unfinished": len(load.unfinished),
        "refused": dict(load.refused),
    }


# --- The report -------------------------------------------------------------------------------------


def p99(values: list[float]) -> str:
    if not values:
        return "-"
    values = sorted(values)
    return f"{values[min(len(values) - 1, math.ceil(0.99 * len(values)) - 1)] * 1000:,.0f}"


CHECK_KEYS = (
    "acknowledged",
    "lost",
    "recorded_unacknowledged",
    "linked_twice",
    "miscounted_parents",
    "unfinished",
    "refused",
)
DURING_AT_LEAST_SECONDS = 5.0


NO_ANSWER = {TIMEOUT: "timeout", CONN: "conn"}


def status_name(status: int) -> str:
    return NO_ANSWER.get(status, str(status))


def status_number(name: str) -> int:
    named = {known: status for status, known in NO_ANSWER.items()}
    return named[name] if name in named else int(name)


def summarise(
    name: str, title: str, attempts: list[Attempt], fault_start: float, fault_end: float, check: dict
) -> dict:
    """One drill's row. "During" runs from the fault's start until the last failure was answered, the fault
    ended, or DURING_AT_LEAST_SECONDS went by, whichever is last (a killed worker's fault is over at once, its
    effect is not); "before" and "after" are the attempts sent on either side of it."""
    failed = [a for a in attempts if not 200 <= a.status < 300]
    failed_since = [a for a in failed if a.sent >= fault_start - 1]
    during_end = max([fault_end, fault_start + DURING_AT_LEAST_SECONDS, *(a.answered for a in failed_since)])
    before = [a.answered - a.sent for a in attempts if a.sent < fault_start]
    during = [a.answered - a.sent for a in attempts if fault_start <= a.sent <= during_end]
    after = [a.answered - a.sent for a in attempts if a.sent > during_end]
    statuses = Counter(status_name(a.status) for a in failed)
    database = (
        "ok"
        if not (check["lost"] or check["linked_twice"] or check["miscounted_parents"] or check["unfinished"])
        else "FAULT"
    )
    return {
        "drill": name,
        "what": title,
        "fault_s": round(fault_end - fault_start, 2),
        "attempts": len(attempts),
        "failed": len(failed),
        # The brief's failure window: the first failed attempt sent to the last failed one answered.
        "window_s": round(max(a.answered for a in failed) - min(a.sent for a in failed), 2) if failed else 0.0,
        # When the failed attempts were sent, from the fault's start; and how long after the fault ended (the
        # database accepting connections again, the server started) the last of them was answered.
        "failed_sent_s": [
            round(min(a.sent for a in failed) - fault_start, 2),
            round(max(a.sent for a in failed) - fault_start, 2),
        ]
        if failed
        else None,
        "failing_after_fault_s": round(max(a.answered for a in failed) - fault_end, 2) if failed else None,
        "statuses": dict(sorted(statuses.items())),
        "no_retry_after_503": sum(1 for a in failed if a.status == 503 and not a.retry_after),
        "p99_before_ms": p99(before),
        "p99_during_ms": p99(during),
        "p99_after_ms": p99(after),
        "max_during_ms": f"{max(during, default=0) * 1000:,.0f}",
        "database": database,
        **check,
    }


def table(rows: list[dict]) -> list[str]:
    head = (
        "| drill | fault lasted | attempts | failed | failure window (failed ones sent at) | last failure answered,"
        " after the fault | statuses (not 2xx) | 503 w/o Retry-After | p99 before / during / after ms | slowest"
        " during | acknowledged | lost / twice / miscounted |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for row in rows:
        statuses = ", ".join(f"{code} x{count}" for code, count in row["statuses"].items()) or "none"
        if row["failed"]:
            first, last = row["failed_sent_s"]
            window = f"{row['window_s']:.2f} s ({first:+.2f} to {last:+.2f} s)"
            after = f"{row['failing_after_fault_s']:+.2f} s"
        else:
            window, after = "none", "-"
        lines.append(
            f"| {row['what']} | {row['fault_s']:.1f} s | {row['attempts']:,} | {row['failed']:,} | {window} | {after} |"
            f" {statuses} | {row['no_retry_after_503']} | {row['p99_before_ms']} / {row['p99_during_ms']} /"
            f" {row['p99_after_ms']} | {row['max_during_ms']} ms | {row['acknowledged']:,} | {row['lost']} /"
            f" {row['linked_twice']} / {row['miscounted_parents']}{'' if row['database'] == 'ok' else ' FAULT'} |"
        )
    return lines


def report_again(folder: Path) -> list[dict]:
    """The rows of an earlier run, computed again from its files (summary.json and each drill's attempts)."""
    rows = []
    for row in json.loads((folder / "summary.json").read_text()):
        with (folder / f"{row['drill']}-attempts.csv").open() as attempts_file:
            attempts = [
                Attempt(
                    line["client_scan_id"],
                    float(line["sent_s"]),
                    float(line["answered_s"]),
                    status_number(line["status"]),
                    line["retry_after"] or None,
                )
                for line in csv.DictReader(attempts_file)
            ]
        check = {key: row[key] for key in CHECK_KEYS}
        rows.append(summarise(row["drill"], row["what"], attempts, 0.0, row["fault_s"], check))
    return rows


# --- Setup and main ---------------------------------------------------------------------------------


def make_rig(folder: Path, args) -> Rig:
    """The servers, none started yet."""
    postgres, redis = Postgres(folder / "postgres"), Redis(folder)
    servers = [AppServer(name, folder, postgres.url, redis.url, args.workers) for name in ("a", "b")]
    return Rig(postgres, redis, servers, LoadBalancer(folder, servers))


def set_up(rig: Rig, args) -> list[Session]:
    """Everything started, the database migrated and seeded, the dispatchers logged in through haproxy."""
    rig.postgres.create()
    rig.redis.start()
    env = {**os.environ, "DATABASE_URL": rig.postgres.url, "DB_POOL_MAX_SIZE": "0"}
    env.pop("REDIS_URL", None)
    for command in (
        ["migrate", "--no-input", "-v0"],
        ["collectstatic", "--no-input", "-v0"],
        ["seed_bulk", "--bags", str(SEED_BAGS)],
    ):
        subprocess.run(
            [sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
        )
    scan_loop.ensure_dispatchers(rig.postgres.url, args.dispatchers)
    for server in rig.servers:
        server.start()
    rig.balancer.start()
    return scan_loop.log_in_dispatchers(f"http://127.0.0.1:{rig.balancer.port}", args.dispatchers)


def tear_down(rig: Rig) -> None:
    """Everything stopped, whatever got started: the balancer, the app servers, Redis, PostgreSQL."""
    rig.balancer.stop()
    for server in rig.servers:
        server.stop()
    rig.redis.stop()
    rig.postgres.remove()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(DRILLS), help=f"drills to run, comma-separated: {', '.join(DRILLS)}")
    parser.add_argument("--dispatchers", type=int, default=50)
    parser.add_argument("--rate", type=float, default=2.0, help="scans a second per dispatcher")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per app server")
    parser.add_argument("--before", type=float, default=10, help="seconds of load before each fault")
    parser.add_argument("--after", type=float, default=15, help="seconds of load after each fault")
    parser.add_argument("--pg-stop-seconds", type=float, default=20)
    parser.add_argument("--redis-stop-seconds", type=float, default=30)
    parser.add_argument("--server-stop-seconds", type=float, default=10)
    parser.add_argument("--report", type=Path, help="print the table of an earlier run again, from its folder")
    args = parser.parse_args()
    if args.report:
        print("\n".join(table(report_again(args.report))))
        return
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(names) - set(DRILLS)
    if unknown:
        parser.error(f"unknown drill {', '.join(sorted(unknown))}; the drills: {', '.join(DRILLS)}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    out = ROOT / "bench" / "results" / f"faults-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True)
    folder = Path(tempfile.mkdtemp(prefix="tt-faults-"))
    folder.chmod(0o755)  # the postgres user reaches its cluster inside
    rig = make_rig(folder, args)
    rows = []
    try:
        started = time.monotonic()
        sessions = set_up(rig, args)
        print(
            f"set up in {time.monotonic() - started:.0f} s: {len(sessions)} dispatchers through haproxy on "
            f"127.0.0.1:{rig.balancer.port}, app servers on {rig.servers[0].port} and {rig.servers[1].port}",
            flush=True,
        )
        for serial, name in enumerate(names):
            outcome = run_drill(name, rig, sessions, args, serial)
            row = summarise(
                name, outcome.title, outcome.load.attempts, outcome.fault_start, outcome.fault_end, outcome.check
            )
            rows.append(row)
            print("  " + json.dumps(row), flush=True)
            with (out / f"{name}-attempts.csv").open("w", newline="") as attempts_file:
                writer = csv.writer(attempts_file)
                writer.writerow(["client_scan_id", "sent_s", "answered_s", "status", "retry_after"])
                for a in outcome.load.attempts:
                    writer.writerow(
                        [
                            a.client_scan_id,
                            f"{a.sent - outcome.fault_start:.3f}",
                            f"{a.answered - outcome.fault_start:.3f}",
                            status_name(a.status),
                            a.retry_after,
                        ]
                    )
    finally:
        for log in folder.glob("*.log"):
            shutil.copy(log, out / log.name)
        if rig.postgres.log.exists():
            shutil.copy(rig.postgres.log, out / "postgresql.log")
        tear_down(rig)
        shutil.rmtree(folder, ignore_errors=True)
    text = "\n".join(
        [
            f"TraitorTrack fault drills, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores,"
            f" {args.dispatchers} dispatchers x {args.rate:g} scans/s through haproxy, 2 app servers x {args.workers}"
            " gevent workers",
            "",
            *table(rows),
        ]
    )
    print("\n" + text)
    (out / "summary.txt").write_text(text + "\n")
    (out / "summary.json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
