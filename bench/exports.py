"""Scan latency during a running export (issue 16): does one download of the bag table crowd the scans?

Starts the app as in production (gunicorn -c traitortrack/gunicorn.conf.py, the psycopg pool, Redis) with ONE
gevent worker, so every scan meets the export in the same process and on the same event loop. Dispatchers
scan through the scan API at a steady rate (bench/scan.lua through bench/scan_loop.py's run_wrk: each opens
a new parent and scans new children into it), measured for --seconds with no export, then while a biller
downloads the whole bag table as CSV, then as Excel (curl, reading as fast as it can). Each export is also
timed alone, with no scans: its rows/s. Every figure printed is the median of --repeats rounds.

    .venv/bin/python bench/exports.py [--bags 400000] [--repeats 3] [--seconds 5] [--dispatchers 4] [--rate 10]

Target: scan p50 under 50 ms during an export. Needs wrk and the PostgreSQL at 127.0.0.1:5432 (user
postgres); makes the database tt_bench_exports and seeds it with `manage.py seed_bulk` up to --bags bags
(a minute per million), then keeps it for the next run (--drop drops it at the end). Results (wrk's output,
gunicorn's log) go to bench/results/exports-<time>/.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import datetime

import psycopg
from scan_loop import (
    PASSWORD,
    ROOT,
    Gunicorn,
    ensure_dispatchers,
    log_in,
    log_in_dispatchers,
    manage,
    run_wrk,
)

SERVER = "postgres://postgres@127.0.0.1:5432"
SCRATCH = "tt_bench_exports"
BILLER = "bench_exporter"
TARGET_P50_MS = 50.0
FORMATS = {"CSV": "csv", "Excel": "xlsx"}


def ensure_database(database_url: str, bags: int) -> int:
    """Create, migrate and seed the scratch database up to ``bags`` bags; the number it holds."""
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as server:
        if not server.execute("SELECT 1 FROM pg_database WHERE datname = %s", (SCRATCH,)).fetchone():
            server.execute(f"CREATE DATABASE {SCRATCH}")
    manage(database_url, "migrate", "--no-input", "-v0")
    with psycopg.connect(database_url) as conn:
        (held,) = conn.execute("SELECT count(*) FROM bags_bag").fetchone()
    if held < bags:
        print(f"{SCRATCH} holds {held:,} bags: seeding {bags - held:,} more", flush=True)
        manage(database_url, "seed_bulk", "--bags", str(bags - held), "-v0")
        with psycopg.connect(database_url) as conn:
            (held,) = conn.execute("SELECT count(*) FROM bags_bag").fetchone()
    manage(database_url, "collectstatic", "--no-input", "-v0")  # the login page's static files
    return held


def ensure_biller() -> None:
    """The biller who downloads the exports, with the dispatchers' password (ensure_dispatchers set Django up)."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection

    from accounts.models import Role, User

    User.objects.update_or_create(
        username=BILLER, defaults={"role": Role.BILLER, "is_active": True, "password": make_password(PASSWORD)}
    )
    connection.close()


class Download:
    """One export of the bag table, downloaded by curl and thrown away as it arrives."""

    def __init__(self, base_url: str, sessionid: str, file_format: str) -> None:
        url = f"{base_url}/exports/bags?bags-file_format={file_format}"
        argv = ["curl", "-sS", "-o", "/dev/null", "-b", f"sessionid={sessionid}", url]
        argv += ["-w", "%{http_code} %{size_download} %{time_starttransfer} %{time_total}"]
        self.started = time.time()
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def finish(self) -> tuple[float, float, int]:
        """(epoch of the first byte, epoch of the last, bytes), once the download is over."""
        output, errors = self.process.communicate()
        status, size, first, total = output.split()
        if self.process.returncode or status != "200":
            raise SystemExit(f"the export failed: HTTP {status} {errors.strip()}")
        return self.started + float(first), self.started + float(total), int(size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bags", type=int, default=400_000, help="bags in the table exported (%(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds; medians are printed (%(default)s)")
    parser.add_argument("--seconds", type=int, default=5, help="measured seconds of scans per scenario")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of scanning before measuring")
    parser.add_argument("--dispatchers", type=int, default=4, help="dispatchers scanning (%(default)s)")
    parser.add_argument("--rate", type=float, default=10, help="scans a second, each dispatcher (%(default)s)")
    parser.add_argument("--drop", action="store_true", help=f"drop the database {SCRATCH} at the end")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds: gunicorn, wrk and curl are stopped
    database_url = f"{SERVER}/{SCRATCH}"
    out = ROOT / "bench" / "results" / f"exports-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True)
    try:
        bags = ensure_database(database_url, args.bags)
        ensure_dispatchers(database_url, args.dispatchers)
        ensure_biller()
        app = Gunicorn(database_url, 1, out / "gunicorn.log")
        print(f"{bags:,} bags; app: {app.command}", flush=True)
        with app:
            rounds = measure(args, app, database_url, out, bags)
    finally:
        if args.drop:
            with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as server:
                server.execute(f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)")
    text = "\n".join(report(rounds, args, bags))
    print("\n" + text)
    (out / "summary.txt").write_text(text + "\n")


def measure(args: argparse.Namespace, app: Gunicorn, database_url: str, out, bags: int) -> list[dict[str, dict]]:
    """Per round, per scenario: scan p50/p95 (ms), the export's rows/s, and whether it outlasted the window."""
    sessions = log_in_dispatchers(app.url, args.dispatchers)
    biller = log_in(app.url, BILLER).sessionid
    ids = [0]
    rounds = []
    for number in range(1, args.repeats + 1):
        print(f"round {number} of {args.repeats}", flush=True)
        figures: dict[str, dict] = {}
        for label, file_format in (("no export", None), *FORMATS.items()):
            download = Download(app.url, biller, file_format) if file_format else None
            try:
                scans = run_wrk(
                    name=f"scans, {label}" if download is None else f"scans during the {label} export",
                    sessions=sessions,
                    rate=args.rate,
                    seconds=args.seconds,
                    warmup=args.warmup,
                    app=app,
                    database_url=database_url,
                    out=out,
                    ids=ids,
                )
            finally:
                ended = download.finish() if download else None
            row = {"p50": scans.p50, "p95": scans.p95, "errors": scans.errors}
            if ended:
                first, last, size = ended
                row["rows/s"] = bags / (last - download.started)
                # The scans measured must all have met the running export, or the figure is not about it.
                row["covered"] = first <= scans.window[0] and last >= scans.window[1]
                row["MB"] = size / 1e6
            figures[label] = row
        for label, file_format in FORMATS.items():
            download = Download(app.url, biller, file_format)
            _, last, size = download.finish()
            figures[f"{label} alone"] = {"rows/s": bags / (last - download.started), "MB": size / 1e6}
        print("  " + "; ".join(f"{k}: {_line(v)}" for k, v in figures.items()), flush=True)
        rounds.append(figures)
    return rounds


def _line(row: dict) -> str:
    parts = [f"p50 {row['p50']:.1f} ms p95 {row['p95']:.1f} ms" if "p50" in row else ""]
    if "rows/s" in row:
        parts.append(f"{row['rows/s']:,.0f} rows/s")
    return " ".join(part for part in parts if part)


def report(rounds: list[dict[str, dict]], args: argparse.Namespace, bags: int) -> list[str]:
    def median(label: str, key: str) -> float:
        return statistics.median(r[label][key] for r in rounds)

    lines = [
        f"{args.dispatchers} dispatchers x {args.rate:g} scans/s on one gevent worker, {args.seconds} s measured "
        f"per scenario; the {bags:,}-bag table exported; medians of {len(rounds)} rounds",
        f"{'scenario':24} {'scan p50':>9} {'scan p95':>9} {'errors':>6} {'export rows/s':>14} {'MB':>6}",
    ]
    for label in rounds[0]:
        first = rounds[0][label]
        scans = (
            f"{median(label, 'p50'):7.1f}ms {median(label, 'p95'):7.1f}ms {median(label, 'errors'):6.0f}"
            if "p50" in first
            else " " * 27
        )
        export = f"{median(label, 'rows/s'):14,.0f} {median(label, 'MB'):6.1f}" if "rows/s" in first else ""
        name = label if label in ("no export",) or "alone" in label else f"during {label} export"
        lines.append(f"{name:24} {scans} {export}")
    for label in FORMATS:
        p50 = median(label, "p50")
        verdict = "met" if p50 < TARGET_P50_MS else "MISSED"
        lines.append(f"target: scan p50 < {TARGET_P50_MS:.0f} ms during the {label} export: {verdict}")
        short = sum(not r[label]["covered"] for r in rounds)
        if short:
            lines.append(
                f"warning: in {short} round(s) the {label} export did not span the measured scans: more --bags"
            )
    # The machine's speed drifts between rounds: each ratio is of one round's two exports.
    ratio = statistics.median(r["CSV alone"]["rows/s"] / r["Excel alone"]["rows/s"] for r in rounds)
    lines.append(f"CSV / Excel export speed, alone (rows/s, the median of the rounds' ratios): {ratio:.2f}")
    return lines


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
