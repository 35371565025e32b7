"""How gunicorn + gevent workers should hold PostgreSQL connections: measured, not guessed.

Starts the app as in production (gunicorn, gevent workers) once per connection mode, drives a
database-touching endpoint (/ready) with wrk, and prints throughput, latency and the peak number of
server connections. Needs wrk (Debian package `wrk`) and DATABASE_URL pointing at a PostgreSQL server.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/traitortrack .venv/bin/python bench/connections.py
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
from gunicorn_app import free_port, wait_ready

ROOT = Path(__file__).resolve().parent.parent

MODES = {
    "psycopg pool (max 10/worker)": {"DB_POOL_MAX_SIZE": "10"},
    "persistent (CONN_MAX_AGE=60)": {"DB_POOL_MAX_SIZE": "0", "CONN_MAX_AGE": "60"},
    "new connection per request": {"DB_POOL_MAX_SIZE": "0", "CONN_MAX_AGE": "0"},
}


COUNT_CONNECTIONS = """
SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
"""


class PeakConnections(threading.Thread):
    """Samples pg_stat_activity for the app's database while the load runs."""

    def __init__(self, database_url: str) -> None:
        super().__init__(daemon=True)
        self.database_url = database_url
        self.peak = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            while not self.stopped.is_set():
                (count,) = conn.execute(COUNT_CONNECTIONS).fetchone()
                self.peak = max(self.peak, count)
                time.sleep(0.2)


def parse_wrk(output: str) -> dict[str, float]:
    def latency_ms(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return {
        "rps": float(rps.group(1)) if rps else float("nan"),
        "p50": latency_ms("50"),
        "p99": latency_ms("99"),
        "errors": (int(errors.group(1)) if errors else 0)
        + (sum(int(n) for n in socket_errors.groups()) if socket_errors else 0),
    }


def run_mode(name: str, overrides: dict[str, str], args: argparse.Namespace) -> dict[str, float]:
    port = free_port()
    env = {**os.environ, **overrides, "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(args.workers)}
    env["GUNICORN_ACCESS_LOG"] = "/dev/null"
    gunicorn = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "traitortrack/gunicorn.conf.py", "traitortrack.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/ready"
    try:
        wait_ready(url, gunicorn)
        subprocess.run(["wrk", "-t2", "-c50", "-d3s", url], capture_output=True, check=True)  # warm-up
        sampler = PeakConnections(os.environ["DATABASE_URL"])
        sampler.start()
        wrk = subprocess.run(
            ["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds}s", "--latency", url],
            capture_output=True,
            text=True,
            check=True,
        )
        sampler.stopped.set()
        sampler.join()
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        gunicorn.wait(timeout=30)
    return {**parse_wrk(wrk.stdout), "peak_connections": sampler.peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=200, help="concurrent HTTP clients (wrk -c)")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3, help="runs per mode; the median is printed")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        raise SystemExit("set DATABASE_URL to the PostgreSQL server to measure against")
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"], cwd=ROOT, check=True)

    print(f"gunicorn gevent x{args.workers} workers, wrk {args.connections} clients x {args.seconds}s, GET /ready")
    print(f"{'mode':32} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'peak conns':>10}")
    for name, overrides in MODES.items():
        runs = sorted((run_mode(name, overrides, args) for _ in range(args.rounds)), key=lambda r: r["rps"])
        median = runs[len(runs) // 2]
        print(
            f"{name:32} {median['rps']:8.0f} {median['p50']:8.1f} {median['p99']:8.1f} "
            f"{median['errors']:7d} {median['peak_connections']:10d}",
            flush=True,
        )


if __name__ == "__main__":
    main()
