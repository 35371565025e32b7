"""The newcomer's path: no DATABASE_URL, so manage.py and gunicorn share an embedded PostgreSQL."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.embedded


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postmaster_pid(pgdata: Path) -> int | None:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return None
    return int(pid_file.read_text().split()[0])


def _running(pid: int) -> bool:
    # A stopped server can linger as a zombie where the sandbox's init does not reap orphans.
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - a local URL we built
        return response.status, response.read().decode()


@pytest.fixture
def embedded_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["EMBEDDED_PG_DIR"] = str(tmp_path / "pgdata")
    return env


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def start_gunicorn(env: dict, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "traitortrack/gunicorn.conf.py", "traitortrack.wsgi"],
        cwd=ROOT,
        env={**env, "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, so a test can kill master and workers at once
    )


def wait_ready(gunicorn: subprocess.Popen, port: int) -> tuple[int, str]:
    deadline = time.monotonic() + 60
    while True:
        try:
            return _get(f"http://127.0.0.1:{port}/ready")
        except OSError:
            assert gunicorn.poll() is None, gunicorn.stdout.read()
            assert time.monotonic() < deadline, "gunicorn did not become ready in 60 s"
            time.sleep(0.3)


def test_embedded_postgres_starts_migrates_serves_a_page_and_stops(embedded_env):
    pgdata = Path(embedded_env["EMBEDDED_PG_DIR"])

    migrate = manage(embedded_env, "migrate", "--no-input")
    assert migrate.returncode == 0, migrate.stderr
    assert "Applying bags.0001_initial... OK" in migrate.stdout
    assert _postmaster_pid(pgdata) is None, "manage.py must stop the server it started"
    collect = manage(embedded_env, "collectstatic", "--no-input", "--verbosity", "0")
    assert collect.returncode == 0, collect.stderr

    port = _free_port()
    gunicorn = start_gunicorn(embedded_env, port)
    try:
        status, body = wait_ready(gunicorn, port)
        assert status == 200
        assert '"database": "ok"' in body
        status, body = _get(f"http://127.0.0.1:{port}/accounts/login/")
        assert status == 200
        assert "Log in" in body

        server_pid = _postmaster_pid(pgdata)
        assert server_pid is not None and _running(server_pid)
        # manage.py joins the server gunicorn holds, and leaves it running for the workers when it exits.
        check = manage(embedded_env, "migrate", "--check")
        assert check.returncode == 0, check.stderr
        assert _postmaster_pid(pgdata) == server_pid
        assert _get(f"http://127.0.0.1:{port}/ready")[0] == 200
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        output = gunicorn.communicate(timeout=30)[0]

    assert gunicorn.returncode == 0, output
    assert _postmaster_pid(pgdata) is None, "gunicorn's master must stop the embedded server on exit"
    assert not _running(server_pid)


def test_a_server_left_behind_by_a_killed_app_is_stopped_by_the_next_command(embedded_env):
    pgdata = Path(embedded_env["EMBEDDED_PG_DIR"])
    assert manage(embedded_env, "migrate", "--no-input").returncode == 0
    port = _free_port()
    gunicorn = start_gunicorn(embedded_env, port)
    wait_ready(gunicorn, port)
    server_pid = _postmaster_pid(pgdata)

    os.killpg(gunicorn.pid, signal.SIGKILL)  # no on_exit, no atexit: the server is left running
    gunicorn.communicate(timeout=30)
    assert _running(server_pid)

    check = manage(embedded_env, "migrate", "--check")

    assert check.returncode == 0, check.stderr
    assert _postmaster_pid(pgdata) is None, "the next command must adopt the orphaned server and stop it"
    assert not _running(server_pid)
