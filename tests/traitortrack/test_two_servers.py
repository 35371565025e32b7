"""Two app servers behind haproxy, as the README's "Two app servers" runs them: two gunicorn processes on the
test database and one Redis, behind a real haproxy with traitortrack/haproxy.cfg. A session made on one
server works on the other, a scan id replayed to either is answered once, the rate limits count across
both, and a rolling restart through haproxy loses no scan and doubles none."""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from bags.models import Bag, Link
from scanning.models import Scan
from tests import factories, worker
from tests.caches import REDIS_URL, free_port

ROOT = Path(__file__).resolve().parents[2]
# The login form's limit, small so that a few attempts spread over both servers reach it (per day: a window
# that would end mid-test would start the count again).
LOGIN_LIMIT = 3

# Committed rows, for the servers' own connections; serialized_rollback puts the data migration's products back.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


class AppServer:
    """gunicorn -c traitortrack/gunicorn.conf.py on a port of its own, one gevent worker."""

    def __init__(self, name: str, folder: Path, env: dict[str, str]) -> None:
        self.name, self.port = name, free_port()
        self.log = folder / f"gunicorn-{name}.log"
        self.env = {**env, "BIND": f"127.0.0.1:{self.port}"}
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        argv = [str(Path(sys.executable).parent / "gunicorn"), "-c", "traitortrack/gunicorn.conf.py"]
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [*argv, "--no-control-socket", "traitortrack.wsgi"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_answering(self) -> None:
        _wait(lambda: _get(self.port, "/health") == 200, f"server {self.name} did not start", self)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)


class LoadBalancer:
    def __init__(self, folder: Path, a: AppServer, b: AppServer) -> None:
        self.port, self.socket, self.log = free_port(), folder / "haproxy.sock", folder / "haproxy.log"
        self.env = {
            **os.environ,
            "TT_LB_BIND": f"127.0.0.1:{self.port}",
            "TT_LB_SOCKET": str(self.socket),
            "TT_APP_A": f"127.0.0.1:{a.port}",
            "TT_APP_B": f"127.0.0.1:{b.port}",
        }
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                ["haproxy", "-db", "-f", str(ROOT / "traitortrack" / "haproxy.cfg")],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def command(self, text: str) -> str:
        """haproxy's runtime API (its stats socket)."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.socket))
            sock.sendall(text.encode() + b"\n")
            return b"".join(iter(lambda: sock.recv(65536), b"")).decode()

    def servers(self) -> dict[str, dict[str, str]]:
        """Each app server's row of "show stat": its status (UP, DOWN, DRAIN...) and sessions (scur)."""
        try:
            header, *rows = self.command("show stat").splitlines()
        except OSError:
            return {}
        names = header.lstrip("# ").split(",")
        found = {}
        for row in rows:
            values = dict(zip(names, row.split(","), strict=False))
            if values.get("pxname") == "app" and values.get("svname") in ("a", "b"):
                found[values["svname"]] = values
        return found

    def up(self) -> set[str]:
        return {name for name, row in self.servers().items() if row["status"] == "UP"}


@dataclass
class Pair:
    a: AppServer
    b: AppServer
    balancer: LoadBalancer


@pytest.fixture(scope="module")
def pair(django_db_setup, tmp_path_factory):
    """Two app servers (one worker each) on the test database and the tests' Redis, behind haproxy."""
    if shutil.which("haproxy") is None:
        missing = "haproxy is missing (apt-get install haproxy)"
        if os.environ.get("CI"):
            pytest.fail(missing)  # .ci/run installs it: its absence is a broken CI, not a skip
        pytest.skip(missing)
    folder = tmp_path_factory.mktemp("two-servers")
    env = {key: value for key, value in os.environ.items() if key not in ("DEBUG", "DB_POOL_MAX_SIZE")}
    env.update(
        DATABASE_URL=worker.test_database_url(),
        REDIS_URL=REDIS_URL,
        WEB_CONCURRENCY="1",
        DB_POOL_MAX_SIZE="4",
        SECRET_KEY="two-servers-test-key",  # one for both servers, as sessions need
        GUNICORN_ACCESS_LOG="",
        LOGIN_RATE_LIMIT=f"{LOGIN_LIMIT}/d",
        # The servers' pages need collectstatic's manifest (whitenoise, DEBUG off): collected for them here,
        # in a folder of their own, not in the checkout's, which another test may be collecting into.
        STATIC_ROOT=str(folder / "static"),
    )
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert collected.returncode == 0, collected.stderr
    a, b = AppServer("a", folder, env), AppServer("b", folder, env)
    balancer = None
    try:
        a.start()
        b.start()
        a.wait_answering()
        b.wait_answering()
        balancer = LoadBalancer(folder, a, b)
        _wait(lambda: balancer.up() == {"a", "b"}, "haproxy did not see both servers up")
        yield Pair(a, b, balancer)
    finally:
        # All at once: each gunicorn waits a moment for its connections to end.
        running = [server.process for server in (a, b) if server.process] + ([balancer.process] if balancer else [])
        for process in running:
            process.terminate()
        for process in running:
            process.wait(timeout=30)


def _wait(condition, failure: str, server: AppServer | None = None, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if server and server.process.poll() is not None:
            pytest.fail(f"{failure}: exited\n{server.log.read_text()[-3000:]}")
        assert time.monotonic() < deadline, failure
        time.sleep(0.1)


def _get(port: int, path: str) -> int:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return 0


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Phone:
    """One scanner's cookies, sent to whichever port it is asked to talk to."""

    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, port: int, method: str, path: str, *, body: bytes = b"", headers: dict | None = None) -> Answer:
        headers = {**(headers or {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            answer = Answer(response.status, response.headers, response.read())
        finally:
            connection.close()
        for cookie in answer.headers.get_all("Set-Cookie") or []:
            name, _, value = cookie.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        return answer

    def log_in(self, port: int, username: str, password: str = factories.PASSWORD) -> Answer:
        self.request(port, "GET", "/accounts/login/")
        form = {"username": username, "password": password, "csrfmiddlewaretoken": self.cookies["csrftoken"]}
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return self.request(port, "POST", "/accounts/login/", body=urlencode(form).encode(), headers=headers)

    def scan(self, port: int, kind: str, **body) -> Answer:
        headers = {"Content-Type": "application/json", "X-CSRFToken": self.cookies["csrftoken"]}
        return self.request(port, "POST", f"/api/scan/{kind}", body=json.dumps(body).encode(), headers=headers)


def _dispatcher(username: str):
    """A dispatcher whose password the servers can check: hashed with Django's PBKDF2, as they hash (the
    tests' own hasher, MD5 for speed, is not one of theirs)."""
    user = factories.make_user(username)
    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode(factories.PASSWORD, hasher.salt())
    user.save(update_fields=["password"])
    return user


def test_a_session_scans_and_replays_hold_across_the_servers(pair, redis_cache):
    _dispatcher("ann")
    phone = Phone()
    assert phone.log_in(pair.a.port, "ann").status == 302  # on server a

    assert phone.scan(pair.b.port, "parent", client_scan_id="two-servers-p1", code="SB00001").status == 200
    first = phone.scan(pair.b.port, "child", client_scan_id="two-servers-c1", parent="SB00001", code="TWOSRV01")
    assert first.status == 200, first.body
    # The same scan sent again (a retry, an offline replay): to the server that answered it, and to the other.
    for port in (pair.b.port, pair.a.port):
        again = phone.scan(port, "child", client_scan_id="two-servers-c1", parent="SB00001", code="TWOSRV01")
        assert (again.status, again.json()) == (200, first.json())
        assert again.headers["X-Scan-Replayed"] == "true"

    assert Scan.objects.filter(client_scan_id="two-servers-c1").count() == 1
    parent = Bag.objects.get(qr_id="SB00001")
    assert parent.child_count == Link.objects.filter(parent=parent).count() == 1
    # The dashboard's figures are computed once and kept in Redis for both servers: b answers with a's, down to
    # the microsecond they were made at, and they hold the scan made on b.
    on_a = phone.request(pair.a.port, "GET", "/api/dashboard").json()
    assert on_a == phone.request(pair.b.port, "GET", "/api/dashboard").json()
    assert "TWOSRV01" in json.dumps(on_a["recent"])


def test_the_login_rate_limit_counts_attempts_on_both_servers(pair, redis_cache):
    phone = Phone()
    ports = [pair.a.port, pair.b.port, pair.a.port]
    assert [phone.log_in(port, "cleo", "wrong-password").status for port in ports] == [200] * LOGIN_LIMIT
    limited = phone.log_in(pair.b.port, "cleo", "wrong-password")
    assert limited.status == 429
    assert limited.headers["Retry-After"]


@dataclass(eq=False)  # a thread: hashed by identity
class Scanner(threading.Thread):
    """A dispatcher scanning through haproxy: each scan sent until it is answered, with the same client scan id
    (as the scan page does), every attempt's status recorded."""

    number: int
    phone: Phone
    port: int
    stop: threading.Event
    statuses: Counter = field(default_factory=Counter)
    acknowledged: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(daemon=True)

    def run(self) -> None:
        serial = 0
        for parent in (f"SB{self.number}{n:04d}" for n in range(10_000)):
            self.send("parent", client_scan_id=f"roll-{self.number}-{parent}", code=parent)
            for _ in range(20):
                if self.stop.is_set():
                    return
                serial += 1
                code = f"ROLL{self.number}{serial:06d}"
                if self.send("child", client_scan_id=f"roll-{code}", parent=parent, code=code):
                    self.children.append(code)
                time.sleep(0.15)  # a brisk scanner, well under the scan rate limit (600 a minute)

    def send(self, kind: str, **body) -> bool:
        while True:
            try:
                answer = self.phone.scan(self.port, kind, **body)
                status = answer.status
            except OSError:
                status = 0
            self.statuses[status] += 1
            if status == 200:
                self.acknowledged.append(body["client_scan_id"])
                return True
            if status not in (0, 429) and status < 500:
                return False  # a refusal (none is expected: the statuses say so)
            time.sleep(0.2)  # no answer, or "try again": the same scan id again


def _restart(pair: Pair, name: str, *, drain: bool) -> None:
    """Stop the server (SIGTERM: gunicorn finishes what it is answering), start it, and wait until haproxy
    sends it requests again (its health checks pass).

    With ``drain``, the README's rolling restart: first no new requests for it in haproxy until it answers
    none, then maintenance (its idle connections closed, so gunicorn need not wait for them). Without, haproxy
    finds out by itself: a refused connection takes the server out and is retried on the other."""
    server = getattr(pair, name)
    if drain:
        pair.balancer.command(f"set server app/{name} state drain")
        _wait(lambda: pair.balancer.servers()[name]["scur"] == "0", f"{name} did not drain", seconds=15)
        pair.balancer.command(f"set server app/{name} state maint")
    server.stop()
    server.start()
    server.wait_answering()
    if drain:
        pair.balancer.command(f"set server app/{name} state ready")
    _wait(lambda: name in pair.balancer.up(), f"haproxy did not take {name} back", seconds=15)


def test_a_rolling_restart_through_haproxy_loses_no_scan_and_doubles_none(pair, redis_cache):
    scanners = []
    for number in range(1, 4):
        _dispatcher(f"roller{number}")
        phone = Phone()
        assert phone.log_in(pair.balancer.port, f"roller{number}").status == 302
        scanners.append(Scanner(number, phone, pair.balancer.port, threading.Event()))
    for scanner in scanners:
        scanner.start()
    time.sleep(1)
    _restart(pair, "a", drain=False)  # stopped without telling haproxy
    _restart(pair, "b", drain=True)
    time.sleep(1)
    for scanner in scanners:
        scanner.stop.set()
    for scanner in scanners:
        scanner.join(timeout=30)
        assert not scanner.is_alive()

    acknowledged = [scan_id for scanner in scanners for scan_id in scanner.acknowledged]
    children = [code for scanner in scanners for code in scanner.children]
    statuses = sum((scanner.statuses for scanner in scanners), Counter())
    assert len(children) > 50, statuses  # scans flowed all along
    # Every scan answered the first time: haproxy sent nothing to b going away, and what it sent to a once a
    # stopped (a refused connection) it sent again to b.
    assert set(statuses) == {200}, statuses
    # Each acknowledged scan recorded once (client_scan_id is unique: a lost one is missing), each child linked
    # once, and every parent's count equal to its links.
    assert Scan.objects.filter(client_scan_id__in=acknowledged).count() == len(acknowledged)
    assert Link.objects.filter(child__qr_id__in=children).count() == len(children)
    for parent in Bag.objects.filter(qr_id__startswith="SB", kind="parent"):
        assert parent.child_count == Link.objects.filter(parent=parent).count()
