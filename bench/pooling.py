"""The scan loop directly against PostgreSQL and through PgBouncer in transaction pooling, at 200 dispatchers.

The app as in production (gunicorn, gevent workers, the psycopg pool, Redis), driven as bench/scan_loop.py
drives it (wrk, bench/scan.lua: each dispatcher a thread and a keep-alive connection, opening new parents
and scanning new children into them at full speed). Each round runs it twice, direct and pooled in turn
(this machine's speed drifts within minutes): once with DATABASE_URL at PostgreSQL, once at a real
pgbouncer (tests/pgbouncer.py: Debian's 1.18, pool_mode=transaction, ``--bouncer-pool`` server connections)
with DATABASE_POOLER=pgbouncer and DATABASE_DIRECT_URL, as the README's "Through PgBouncer" says. Prints
each mode's medians over the rounds: scans/s, p50/p95/p99, errors, the peak of server connections the
database saw (pg_stat_activity) and PgBouncer's own CPU; then pooled/direct.

    .venv/bin/python bench/pooling.py [--dispatchers 200] [--seconds 10] [--repeats 3] [--bags 2000000]

Needs what bench/scan_loop.py needs (its database, BENCH_DATABASE_URL, is reused: created, migrated and
seeded with ``--bags`` bags when it holds fewer) and /usr/sbin/pgbouncer. Results go to
bench/results/pooling-<time>/.
"""

import argparse
import contextlib
import json
import os
import signal
import statistics
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import psutil
import psycopg
import scan_loop
from connections import PeakConnections

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.pgbouncer import PgBouncer  # noqa: E402 (needs ROOT on the path)

DIRECT, POOLED = "direct", "through PgBouncer"


def app(database_url: str, args: argparse.Namespace, log: Path, bouncer: PgBouncer | None) -> scan_loop.Gunicorn:
    """The app on the database directly, or through ``bouncer`` with the settings for it."""
    gunicorn = scan_loop.Gunicorn(database_url, args.workers, log)
    overrides = {"DB_POOL_MAX_SIZE": str(args.app_pool), "REDIS_URL": args.redis_url}
    if bouncer is not None:
        dbname = psycopg.conninfo.conninfo_to_dict(database_url)["dbname"]
        overrides |= {
            "DATABASE_URL": bouncer.url(dbname),
            "DATABASE_POOLER": "pgbouncer",
            "DATABASE_DIRECT_URL": database_url,
        }
    gunicorn.overrides |= overrides
    gunicorn.env |= overrides
    return gunicorn


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def one_run(mode: str, n: int, sessions, args, database_url: str, out: Path, ids) -> dict:
    """One run of the scan loop; through a PgBouncer of its own when pooled, so that no idle server
    connection of an earlier run counts in the direct run's peak."""
    name = f"{mode} x{len(sessions)} round {n}"
    server = psycopg.conninfo.conninfo_to_dict(database_url)
    bouncer = PgBouncer(server, pool_size=args.bouncer_pool) if mode == POOLED else None
    gunicorn = app(database_url, args, out / f"gunicorn-{scan_loop.slug(name)}.log", bouncer)
    with bouncer or contextlib.nullcontext(), gunicorn:
        peak = PeakConnections(database_url)
        peak.start()
        bouncer_cpu = cpu_seconds(bouncer.process.pid) if bouncer else 0.0
        result = scan_loop.run_wrk(
            name=name,
            sessions=sessions,
            rate=0,
            seconds=args.seconds,
            warmup=args.warmup,
            app=gunicorn,
            database_url=database_url,
            out=out,
            ids=ids,
        )
        elapsed = args.seconds + args.warmup + 1
        bouncer_cores = (cpu_seconds(bouncer.process.pid) - bouncer_cpu) / elapsed if bouncer else 0.0
        peak.stopped.set()
        peak.join()
        if bouncer is not None:
            (out / f"pgbouncer-{scan_loop.slug(name)}.log").write_text(bouncer.log_text())
    # The peak counts the CPU sampler's connection (run_wrk's): not the app's.
    connections = peak.peak - 1
    print(
        f"    {result.scans_per_second:,.0f} scans/s, p99 {result.p99:,.0f} ms, {result.errors} errors,"
        f" {connections} server connections",
        flush=True,
    )
    figures = {**asdict(result), "server_connections": connections, "bouncer_cores": bouncer_cores}
    return figures | {"app_command": gunicorn.command}


def medians(runs: list[dict]) -> dict:
    keys = ("scans_per_second", "p50", "p95", "p99", "errors", "server_connections", "bouncer_cores")
    return {key: statistics.median(run[key] for run in runs) for key in keys}


def table(figures: dict[str, dict]) -> str:
    head = f"{'mode':20} {'scans/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>7} {'server conns':>12}"
    head += f" {'pgbouncer cores':>15}"
    lines = [head, "-" * len(head)]
    for mode, m in figures.items():
        lines.append(
            f"{mode:20} {m['scans_per_second']:8,.0f} {m['p50']:7.1f} {m['p95']:7.1f} {m['p99']:7.1f}"
            f" {m['errors']:7.0f} {m['server_connections']:12.0f} {m['bouncer_cores']:15.2f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dispatchers", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=10, help="measured seconds per run")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of scanning before measuring")
    parser.add_argument("--repeats", type=int, default=3, help="rounds (a direct and a pooled run each)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (WEB_CONCURRENCY)")
    parser.add_argument("--app-pool", type=int, default=10, help="DB_POOL_MAX_SIZE: each worker's pool, both modes")
    parser.add_argument(
        "--bouncer-pool",
        type=int,
        default=10,
        help="PgBouncer's default_pool_size: server connections for all the workers (2 cores need few)",
    )
    parser.add_argument("--redis-url", default=scan_loop.REDIS_URL, help="the app's Redis (sessions, rate limits)")
    parser.add_argument("--bags", type=int, default=scan_loop.BAGS_WANTED, help="bags the database is seeded with")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    database_url = os.environ.get("BENCH_DATABASE_URL", scan_loop.DEFAULT_DATABASE_URL)
    out = ROOT / "bench" / "results" / f"pooling-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True)

    scan_loop.ensure_bench_requirements()
    bags = scan_loop.ensure_database(database_url, args.bags)
    scan_loop.ensure_dispatchers(database_url, args.dispatchers)
    print(f"database {database_url}: {bags:,} bags; results in {out.relative_to(ROOT)}", flush=True)
    with app(database_url, args, out / "gunicorn-logins.log", None) as gunicorn:
        sessions = scan_loop.log_in_dispatchers(gunicorn.url, args.dispatchers)

    runs: dict[str, list[dict]] = {DIRECT: [], POOLED: []}
    ids = [0]
    for n in range(1, args.repeats + 1):
        for mode in (DIRECT, POOLED):
            print(f"  round {n}: {mode}", flush=True)
            runs[mode].append(one_run(mode, n, sessions, args, database_url, out, ids))

    figures = {mode: medians(mode_runs) for mode, mode_runs in runs.items()}
    direct, pooled = figures[DIRECT], figures[POOLED]
    ratios = [p["scans_per_second"] / d["scans_per_second"] for d, p in zip(runs[DIRECT], runs[POOLED], strict=True)]
    text = "\n".join(
        [
            f"TraitorTrack scan loop, direct and through PgBouncer, {datetime.now():%Y-%m-%d %H:%M},"
            f" {os.cpu_count()} cores, {bags:,} bags, {args.dispatchers} dispatchers at full speed, gunicorn"
            f" {args.workers} gevent workers with pools of {args.app_pool}; PgBouncer pool_mode=transaction,"
            f" default_pool_size {args.bouncer_pool}; warm-up {args.warmup} s, then {args.seconds} s measured;"
            f" medians of {args.repeats} rounds",
            "",
            table(figures),
            "",
            f"pooled/direct scans/s: {pooled['scans_per_second'] / direct['scans_per_second']:.2f} (medians);"
            f" each round's: {', '.join(f'{r:.2f}' for r in ratios)}",
            f"pooled/direct p99: {pooled['p99'] / direct['p99']:.2f}",
            "server connections: the peak pg_stat_activity showed for the database during the run, but the"
            " bench's own (direct: the workers' pools; pooled: PgBouncer's)",
            "",
            "runs:",
            *(
                f"  {run['scenario']}: {run['scans_per_second']:,.0f} scans/s, p50 {run['p50']:.1f}"
                f" p95 {run['p95']:.1f} p99 {run['p99']:.1f} ms, {run['errors']} errors,"
                f" {run['server_connections']} server connections"
                for mode_runs in runs.values()
                for run in mode_runs
            ),
            "",
            "commands:",
            f"  {runs[DIRECT][0]['app_command']}",
            f"  {runs[POOLED][0]['app_command']}",
            f"  {runs[DIRECT][0]['command']}",
        ]
    )
    print("\n" + text)
    (out / "summary.txt").write_text(text + "\n")
    (out / "summary.json").write_text(json.dumps(runs, indent=2, default=str))


if __name__ == "__main__":
    main()
