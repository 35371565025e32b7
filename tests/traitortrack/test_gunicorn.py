"""gunicorn as configured (traitortrack/gunicorn.conf.py): the connections of many scanners are spread
over the workers; on a Unix socket the workers share one."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from tests.traitortrack.test_embedded_db import _free_port

ROOT = Path(__file__).resolve().parents[2]
CONNECTIONS = 60


def _gunicorn_env(port: int) -> dict[str, str]:
    """/health touches no database, so any DATABASE_URL does; no Redis either."""
    env = {
        **os.environ,
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/unused"),
        "GUNICORN_ACCESS_LOG": "",
    }
    env.pop("REDIS_URL", None)
    return env


def _start(port: int, *arguments: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-c",
            "traitortrack/gunicorn.conf.py",
            *arguments,
            "traitortrack.wsgi",
        ],
        cwd=ROOT,
        env=_gunicorn_env(port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


@contextmanager
def _two_workers_up(port: int, answers: Callable[[], bool], *arguments: str) -> Iterator[subprocess.Popen]:
    """gunicorn started with ``arguments``, once it has two workers and ``answers()``; stopped after."""
    server = _start(port, *arguments)
    try:
        deadline = time.monotonic() + 60
        while len(psutil.Process(server.pid).children()) < 2 or not answers():
            assert server.poll() is None, server.stdout.read()
            assert time.monotonic() < deadline, "gunicorn did not start two workers in 60 s"
            time.sleep(0.2)
        yield server
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)


@pytest.fixture
def two_workers():
    """gunicorn with two workers on a free port."""
    port = _free_port()
    with _two_workers_up(port, lambda: _answers(port)) as server:
        yield server, port


def _answers(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    except OSError:
        return False


def _established(worker: psutil.Process, port: int) -> int:
    return sum(1 for c in worker.net_connections("tcp") if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port)


def test_keep_alive_connections_are_spread_over_the_workers(two_workers):
    server, port = two_workers
    connections = []
    try:
        for _ in range(CONNECTIONS):  # one after another, as scanners come in over a shift
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/health")
            response = connection.getresponse()
            assert response.status == 200
            response.read()
            connections.append(connection)  # kept open: keep-alive, as the scan page's are
        per_worker = [
            sum(
                1 for c in worker.net_connections("tcp") if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
            )
            for worker in psutil.Process(server.pid).children()
        ]
    finally:
        for connection in connections:
            connection.close()
    assert sum(per_worker) == CONNECTIONS
    # Spread by the kernel's hash: each worker's share is binomial, below 15 of 60 once in 20,000 runs.
    assert min(per_worker) >= 15, per_worker


def test_a_second_server_on_the_same_address_fails_instead_of_sharing_it(two_workers):
    _, port = two_workers
    second = _start(port)
    try:
        output = second.communicate(timeout=60)[0]
    except subprocess.TimeoutExpired:
        os.killpg(second.pid, signal.SIGKILL)
        second.communicate()
        pytest.fail("a second gunicorn started on an address in use, and kept running")
    assert second.returncode != 0
    assert f"Cannot listen on 127.0.0.1:{port}: Address already in use" in output


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str):
        super().__init__("localhost", timeout=5)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def _answers_on(path: str) -> bool:
    try:
        connection = _UnixHTTPConnection(path)
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    except OSError:
        return False


def _listening_sockets(worker: psutil.Process, path: str) -> set[str]:
    """The inodes of the worker's sockets listening on ``path`` (/proc/net/unix: the flag __SO_ACCEPTCON)."""
    with open("/proc/net/unix") as table:
        listening = {
            fields[6]
            for fields in (line.split() for line in list(table)[1:])
            if len(fields) == 8 and fields[7] == path and int(fields[3], 16) & 0x10000
        }
    held = set()
    for fd in os.listdir(f"/proc/{worker.pid}/fd"):
        try:
            held.add(os.readlink(f"/proc/{worker.pid}/fd/{fd}").removeprefix("socket:[").removesuffix("]"))
        except OSError:  # closed meanwhile
            continue
    return listening & held


def test_workers_given_a_unix_socket_on_the_command_line_share_one(tmp_path):
    # BIND (the environment's) is host:port; -b wins over it, so reuse_port must follow -b: with it on, each
    # worker asked for SO_REUSEPORT on a Unix socket, was refused (EOPNOTSUPP) and was started again, forever.
    path = str(tmp_path / "tt.sock")
    with _two_workers_up(_free_port(), lambda: _answers_on(path), "-b", f"unix:{path}") as server:
        sockets = [_listening_sockets(worker, path) for worker in psutil.Process(server.pid).children()]
    assert all(sockets), sockets  # each worker listens there...
    assert len(set().union(*sockets)) == 1, sockets  # ...on the same socket


def test_a_keep_alive_connection_is_closed_after_its_lifetime(monkeypatch):
    # After a worker crash its connections moved to the survivor for good; a bounded lifetime spreads them again.
    monkeypatch.setenv("KEEPALIVE_LIFETIME_SECONDS", "1")
    port = _free_port()
    with _two_workers_up(port, lambda: _answers(port)):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        opened, answers = time.monotonic(), 0
        while True:
            connection.request("GET", "/health")
            response = connection.getresponse()
            response.read()
            answers += 1
            if response.getheader("Connection") == "close":
                break
            assert time.monotonic() - opened < 5, "the connection is still open after 5 s"
            time.sleep(0.05)
        lived = time.monotonic() - opened
        connection.close()
    assert 0.8 <= lived < 2, lived  # a lifetime of 1 s, a fifth either way
    assert answers > 5  # kept alive until then
