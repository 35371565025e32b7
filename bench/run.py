"""The performance harness: every scenario on 2 million bags in one run, and one table with the targets.

    .venv/bin/python bench/run.py [--seconds 30] [--page-seconds 10] [--repeats 3] [--no-rate-test]

Seeds the bench database with 2 million bags if it holds fewer (bench/scan_loop.ensure_database), starts
the app as in production (gunicorn with gevent workers, the psycopg pool, Redis) and runs:

- the scan loop (bench/scan_loop.py): 50 and 200 logged-in dispatchers at full speed, each bracketed by
  pgbench running the same transaction (the raw limit, with the ratio app/raw), and 200 dispatchers at one
  scan a second each (the latency target);
- the pages (bench/pages.py): bag lookup against an empty Django view (a logged-in GET /health, the raw
  limit of a request), the dashboard warm and cold, the bill view and search.

Each script also runs alone, with more detail. Results go to bench/results/run-<time>/ (summary.txt, and
each part's own report and files).
"""

import argparse
import os
import signal
import sys
from datetime import datetime

import pages
import scan_loop
from scan_loop import DEFAULT_DATABASE_URL, ROOT, fmt

RATIO_TARGET = 0.40
RATE_P99_TARGET_MS = 100.0


def summary(scans: scan_loop.ScanRun, page_run: pages.PagesRun) -> list[str]:
    """One table: each scenario's figure, its raw limit or target, and whether it is met."""
    head = f"{'scenario':36} {'figure':>22} {'p50/p95/p99 ms':>22} {'errors':>6}  target"
    lines = [head, "-" * (len(head) + 30)]

    def row(name: str, figure: str, latencies: str, errors: int, target: str) -> None:
        lines.append(f"{name:36} {figure:>22} {latencies:>22} {errors:6d}  {target}")

    for result in scans.app_results:
        latencies = f"{fmt(result.p50)}/{fmt(result.p95)}/{fmt(result.p99)}"
        if result.ratio is not None:
            met = "met" if result.ratio >= RATIO_TARGET else "NOT met"
            target = f"app/raw = {result.ratio:.2f} >= {RATIO_TARGET}: {met}"
        else:
            met = "met" if result.p99 < RATE_P99_TARGET_MS and result.errors == 0 else "NOT met"
            target = f"p99 < {RATE_P99_TARGET_MS:g} ms, 0 errors: {met}"
        row(result.scenario, f"{result.scans_per_second:,.0f} scans/s", latencies, result.errors, target)
    for result in scans.raw_results:
        row(f"  raw: {result.scenario}", f"{result.scans_per_second:,.0f} tx/s", "", result.errors, "")
    for scenario in page_run.warm + page_run.cold:
        latencies = f"{scenario.median('p50'):.1f}/{scenario.median('p95'):.1f}/{scenario.median('p99'):.1f}"
        errors = sum(run.errors for run in scenario.runs)
        target = ""
        if scenario.name in pages.TARGETS:
            stat, limit = pages.TARGETS[scenario.name]
            target = f"{stat} < {limit:g} ms: {'met' if scenario.median(stat) < limit else 'NOT met'}"
        if scenario.name.startswith("bag lookup"):
            met = "met" if page_run.ratio >= pages.LOOKUP_RATIO_TARGET else "NOT met"
            target = f"lookup/empty = {page_run.ratio:.2f} >= {pages.LOOKUP_RATIO_TARGET}: {met}"
        if scenario.name.startswith("empty view"):
            target = "(raw limit of a logged-in request)"
        row(scenario.name, f"{scenario.median('requests_per_second'):,.0f} req/s", latencies, errors, target)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    scan_loop.add_arguments(parser)
    pages.add_arguments(parser)
    parser.add_argument("--no-rate-test", dest="rate_test", action="store_false", help="skip 200 x 1 scan/s")
    parser.set_defaults(rate_test=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    out = ROOT / "bench" / "results" / f"run-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True)

    scans = scan_loop.run(args, database_url, out)
    page_run = pages.run(args, database_url, out)
    text = "\n".join(
        [
            f"TraitorTrack performance harness, {datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} cores,"
            f" {scans.bags:,} bags, gunicorn {args.workers} gevent workers + Redis",
            "",
            *summary(scans, page_run),
            "",
            "=" * 40,
            *scan_loop.report(scans, args),
            "",
            "=" * 40,
            *pages.report(page_run, args),
        ]
    )
    print("\n" + text)
    (out / "summary.txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
