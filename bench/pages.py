"""The pages under load on 2 million bags: bag lookup against the empty-view limit, the dashboard warm and
cold, the bill view and search, each as p50/p95/p99 (and req/s) under wrk, medians of repeats.

Starts the app as in production (gunicorn, gevent workers, the psycopg pool, Redis: bench/scan_loop.py's
Gunicorn) on the bench database (created, migrated and seeded with 2 million bags when it holds fewer:
scan_loop.ensure_database), logs a biller in once and drives it with wrk (bench/pages.lua picks a path at
random from a list for every request and reports the percentiles). Scenarios:

- empty view: GET /health with the session cookie. It goes through the whole middleware stack, the session
  (Redis) and the user (kept in the process) like every page, then does nothing: the fixed cost of a logged-in
  request, so lookup / empty view is what the lookup itself costs.
- bag lookup: GET /api/bags/<code> over random codes of the table (one SQL statement, bags.managers).
- dashboard warm: GET /dashboard/ and GET /api/dashboard, figures in the cache (overview.dashboard).
- dashboard cold: the same on a second app started with DASHBOARD_FRESH_SECONDS=0 and one client, so every
  request computes every figure from PostgreSQL (the stored bag totals and past hours' counts are the
  design's, and stay; their own cost is measured apart, in-process, and printed).
- bill view: GET /bills/<id>/ of a draft bill of 50 parents x 30 children (bench/bill_view.make_bill; deleted
  afterwards).
- search: GET /search/ over random code prefixes (3 to 12 characters), some with filters, some "Everything".

    .venv/bin/python bench/pages.py [--page-seconds 10] [--repeats 3] [--explain]

Throughput scenarios (empty view, lookup) run with 50 connections, the latency ones with 1: the time a person
waits, not the time spent queueing behind the benchmark's own other requests.
Needs wrk, Redis on 127.0.0.1:6379 and PostgreSQL (BENCH_DATABASE_URL, default tt_bench). Writes only a
bench biller, the bill (deleted after) and the dashboard's own derived rows. Results go to
bench/results/pages-<time>/.
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import timeit
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from scan_loop import (
    DEFAULT_DATABASE_URL,
    PASSWORD,
    ROOT,
    Gunicorn,
    ensure_database,
    ensure_dispatchers,
    log_in,
)

LUA = ROOT / "bench" / "pages.lua"
BILLER = "bench_biller"  # bench/bill_view.py's, given a password here
THROUGHPUT_CONNECTIONS = 50
# Latency: one request at a time, what a person waits for without queueing behind the benchmark's own other
# requests (a few dashboards polling every 5 s are a few requests a second; throughput is the 50's job).
LATENCY_CONNECTIONS = 1
TARGETS = {
    "dashboard warm: page": ("p95", 25.0),
    "dashboard cold: page": ("p95", 150.0),
    "search": ("p95", 50.0),
    "bill view: page (50 x 30)": ("p95", 60.0),
}
LOOKUP_RATIO_TARGET = 0.70


@dataclass
class Run:
    requests_per_second: float
    p50: float
    p95: float
    p99: float
    errors: int


@dataclass
class Scenario:
    name: str
    paths: list[str]
    connections: int
    runs: list[Run] = field(default_factory=list)

    def median(self, name: str) -> float:
        return statistics.median(getattr(run, name) for run in self.runs)


# --- Setup -------------------------------------------------------------------------------------------


def ensure_biller() -> None:
    from django.contrib.auth.hashers import make_password

    from accounts.models import Role, User

    User.objects.update_or_create(
        username=BILLER, defaults={"role": Role.BILLER, "password": make_password(PASSWORD), "is_active": True}
    )


def sample_codes(count: int) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT qr_id FROM bags_bag TABLESAMPLE SYSTEM (1) LIMIT %s", [count])
        return [code for (code,) in cursor.fetchall()]


def search_paths(codes: list[str], rng: random.Random) -> list[str]:
    """A mix: mostly a code's start; some with filters; some "Everything" (bags and bills)."""
    filters = ["&kind=parent&status=open", "&status=unlinked", "&product=mustard", "&kind=child&status=linked"]
    paths = []
    for code in codes[:600]:
        prefix = urllib.parse.quote(code[: rng.randint(3, len(code))])
        roll = rng.random()
        if roll < 0.7:
            paths.append(f"/search/?q={prefix}&show=bags")
        elif roll < 0.85:
            paths.append(f"/search/?q={prefix[:3]}&show=bags{rng.choice(filters)}")
        else:
            paths.append(f"/search/?q={prefix}")
    return paths


# --- Load --------------------------------------------------------------------------------------------


def wrk(url: str, scenario: Scenario, seconds: int, cookie: str, out: Path) -> Run:
    paths_file = out / f"{re.sub(r'[^a-z0-9]+', '-', scenario.name.lower()).strip('-')}.paths"
    paths_file.write_text("\n".join(scenario.paths) + "\n")
    threads = min(2, scenario.connections)  # wrk wants a connection per thread at least
    argv = ["wrk", f"-t{threads}", f"-c{scenario.connections}", f"-d{seconds}s", "-s", str(LUA), url]
    result = subprocess.run([*argv, "--", str(paths_file), cookie], capture_output=True, text=True, check=True)
    line = next((line for line in result.stdout.splitlines() if line.startswith("{")), None)
    if line is None:
        raise SystemExit(f"wrk said nothing we can read: {result.stdout}\n{result.stderr}")
    figures = json.loads(line)
    return Run(
        requests_per_second=figures["requests"] / (figures["duration_us"] / 1e6),
        p50=figures["p50_us"] / 1000,
        p95=figures["p95_us"] / 1000,
        p99=figures["p99_us"] / 1000,
        errors=figures["non_2xx_3xx"] + figures["socket_errors"],
    )


def measure(app: Gunicorn, scenarios: list[Scenario], args: argparse.Namespace, out: Path) -> None:
    session = log_in(app.url, BILLER)
    cookie = f"sessionid={session.sessionid}; csrftoken={session.csrftoken}"
    for scenario in scenarios:  # warm-up: pools, caches, the first hour counts
        wrk(app.url, Scenario(scenario.name, scenario.paths, scenario.connections), 3, cookie, out)
    for round_number in range(1, args.repeats + 1):
        print(f"  round {round_number} of {args.repeats}", flush=True)
        for scenario in scenarios:
            scenario.runs.append(wrk(app.url, scenario, args.page_seconds, cookie, out))


# --- In-process costs --------------------------------------------------------------------------------


def median_ms(call, repeats: int = 5) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def derived_costs() -> dict[str, float]:
    """What the design moves off the request path: the bag totals' recount (at most once a minute, by one
    process) and counting a day of past hours from nothing (each hour once, ever)."""
    from bags.models import BagTotals
    from overview import dashboard
    from scanning.models import ScanTally

    def count_hours() -> None:
        ScanTally.objects.all().delete()
        dashboard.compute(area_id=None, restricted=False, with_bills=True)

    return {
        "bag totals recount (BagTotals.refresh)": median_ms(BagTotals.objects.refresh, 3),
        "dashboard figures with 23 past hours counted from nothing": median_ms(count_hours, 3),
        "dashboard figures, computed in-process": median_ms(
            lambda: dashboard.compute(area_id=None, restricted=False, with_bills=True), 20
        ),
    }


def middleware_cost() -> float:
    """Microseconds the request counter adds to a request (traitortrack.metrics.RequestMetricsMiddleware)."""
    from django.http import HttpResponse
    from django.test import RequestFactory

    from traitortrack.metrics import RequestMetricsMiddleware

    response, request = HttpResponse(), RequestFactory().get("/health")
    bare = lambda request: response  # noqa: E731
    counted = RequestMetricsMiddleware(bare)
    loops = 200_000
    with_counter = min(timeit.repeat(lambda: counted(request), number=loops, repeat=5))
    without = min(timeit.repeat(lambda: bare(request), number=loops, repeat=5))
    return (with_counter - without) / loops * 1e6


# --- Plans -------------------------------------------------------------------------------------------


def explain(codes: list[str]) -> list[str]:
    """EXPLAIN ANALYZE of the search and the dashboard's queries on this database, with the
    index each one is meant to use and whether it does."""
    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone

    from accounts.models import User
    from bags.managers import BAG_CODE_SEARCH_SQL, TOTALS_SINCE_SQL, code_search_params
    from bags.models import BagKind, BagTotals
    from bags.selectors import BagSearch, BagStatus, matching_bags
    from scanning.choices import PUTS_CHILD_IN, TAKES_CHILD_OUT
    from scanning.models import Scan

    biller = User.objects.get(username=BILLER)
    child = next(code for code in codes if not code.startswith(("SB", "M444")))
    page = slice(0, 26)
    checks = [
        (
            "search: open parents, newest first",
            matching_bags(biller, BagSearch(kind=BagKind.PARENT, status=BagStatus.OPEN)).order_by("-pk")[page],
            None,
        ),
        (
            "search: loose children, newest first",
            matching_bags(biller, BagSearch(status=BagStatus.UNLINKED)).order_by("-pk")[page],
            None,
        ),
        (
            "dashboard: latest scans",
            Scan.objects.select_related("user").order_by("-created_at", "-pk")[:10],
            "scan_created_idx",
        ),
        (
            "dashboard: the scans since the last five-minute count",
            Scan.objects.filter(created_at__gte=timezone.now() - timedelta(minutes=6))
            .order_by()
            .values("dispatch_area_id", "user_id")
            .annotate(n=Count("pk")),
            "scan_created_idx",
        ),
    ]
    lines = []
    for name, queryset, index in checks:
        plan = queryset.explain(analyze=True, buffers=True)
        lines += plan_report(name, plan, index)
    marks = BagTotals.objects.values_list("bag_mark", "scan_mark").first() or (0, 0)
    raw = [
        ("search: a common start (2 letters)", BAG_CODE_SEARCH_SQL, code_search_params(prefix=child[:2], limit=26)),
        ("search: a rare start", BAG_CODE_SEARCH_SQL, code_search_params(prefix=child[:-1], limit=26)),
        (
            "search: a common start, children in no parent",
            BAG_CODE_SEARCH_SQL,
            code_search_params(prefix=child[:3], limit=26, kind="child", linked=False),
        ),
        (
            "dashboard: totals since the count",
            TOTALS_SINCE_SQL,
            {"bag_mark": marks[0], "scan_mark": marks[1], "puts_in": PUTS_CHILD_IN, "takes_out": TAKES_CHILD_OUT},
        ),
    ]
    for name, sql, params in raw:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            index = "_like" if sql is BAG_CODE_SEARCH_SQL else None
            lines += plan_report(name, "\n".join(row[0] for row in cursor.fetchall()), index)
    return lines


def plan_report(name: str, plan: str, index: str | None) -> list[str]:
    took = re.search(r"Execution Time: ([\d.]+) ms", plan)
    seq = [line.strip() for line in plan.splitlines() if "Seq Scan" in line]
    head = f"-- {name}: {took.group(1) if took else '?'} ms"
    if index:
        head += f"; uses {index}: {'yes' if index in plan else 'NO'}"
    head += f"; sequential scans: {', '.join(seq) if seq else 'none'}"
    return [head, *("   " + line for line in plan.splitlines()), ""]


# --- Report ------------------------------------------------------------------------------------------


def table(scenarios: list[Scenario], ratio: float, ratios: list[float]) -> list[str]:
    head = f"{'scenario':34} {'conns':>5} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>6}  target"
    lines = [head, "-" * (len(head) + 24)]
    for scenario in scenarios:
        target = ""
        if scenario.name in TARGETS:
            stat, limit = TARGETS[scenario.name]
            got = scenario.median(stat)
            target = f"{stat} < {limit:g} ms: {'met' if got < limit else 'NOT met'}"
        if scenario.name.startswith("bag lookup"):
            met = "met" if ratio >= LOOKUP_RATIO_TARGET else "NOT met"
            target = f"lookup/empty = {ratio:.2f} >= {LOOKUP_RATIO_TARGET}: {met}"
        lines.append(
            f"{scenario.name:34} {scenario.connections:5d} {scenario.median('requests_per_second'):8,.0f}"
            f" {scenario.median('p50'):7.1f} {scenario.median('p95'):7.1f} {scenario.median('p99'):7.1f}"
            f" {sum(run.errors for run in scenario.runs):6d}  {target}"
        )
    lines.append(f"lookup/empty per round: {', '.join(f'{r:.2f}' for r in ratios)} (median {ratio:.2f})")
    lines.append("each run (req/s, p95 ms, errors):")
    for scenario in scenarios:
        runs = "; ".join(f"{run.requests_per_second:,.0f}, {run.p95:.1f}, {run.errors}" for run in scenario.runs)
        lines.append(f"  {scenario.name}: {runs}")
    return lines


@dataclass
class PagesRun:
    """Everything one run of the page scenarios measured, for report()."""

    bags: int
    warm: list[Scenario]
    cold: list[Scenario]
    ratio: float
    ratios: list[float]
    costs: dict[str, float]
    counter_us: float
    plans: list[str]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--page-seconds", type=int, default=10, help="seconds per page run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per page scenario; medians are printed")
    parser.add_argument("--explain", action="store_true", help="also print the queries' plans (EXPLAIN ANALYZE)")


def run(args: argparse.Namespace, database_url: str, out: Path) -> PagesRun:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    bags = ensure_database(database_url)
    ensure_dispatchers(database_url, 1)  # sets Django up on the bench database
    ensure_biller()
    from bill_view import make_bill  # needs Django set up

    from bills.models import Bill

    rng = random.Random(7)  # which codes to ask for
    codes = sample_codes(10_000)
    rng.shuffle(codes)
    bill = make_bill(50, 30, finalise=False)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"database {database_url}: {bags:,} bags; load average {load}; results in {out.relative_to(ROOT)}")
    try:
        costs = derived_costs()
        counter_us = middleware_cost()
        plans = explain(codes) if args.explain else []
        empty = Scenario("empty view: GET /health", ["/health"], THROUGHPUT_CONNECTIONS)
        lookup = Scenario(
            "bag lookup: GET /api/bags/<code>",
            [f"/api/bags/{urllib.parse.quote(c)}" for c in codes],
            THROUGHPUT_CONNECTIONS,
        )
        warm = [
            empty,
            lookup,
            Scenario("dashboard warm: page", ["/dashboard/"], LATENCY_CONNECTIONS),
            Scenario("dashboard warm: JSON", ["/api/dashboard"], LATENCY_CONNECTIONS),
            Scenario("bill view: page (50 x 30)", [f"/bills/{bill.pk}/"], LATENCY_CONNECTIONS),
            Scenario("search", search_paths(codes, rng), LATENCY_CONNECTIONS),
        ]
        cold = [
            Scenario("dashboard cold: page", ["/dashboard/"], 1),
            Scenario("dashboard cold: JSON", ["/api/dashboard"], 1),
        ]
        app = Gunicorn(database_url, args.workers, out / "gunicorn-pages.log")
        print("app:", app.command, flush=True)
        with app:
            measure(app, warm, args, out)
        cold_app = Gunicorn(database_url, args.workers, out / "gunicorn-pages-cold.log")
        for env in (cold_app.env, cold_app.overrides):
            env["DASHBOARD_FRESH_SECONDS"] = "0"
        print("cold app:", cold_app.command, flush=True)
        with cold_app:
            measure(cold_app, cold, args, out)
    finally:
        Bill.objects.filter(pk=bill.pk).delete()
    ratios = [
        lookup_run.requests_per_second / empty_run.requests_per_second
        for lookup_run, empty_run in zip(lookup.runs, empty.runs, strict=True)
    ]
    return PagesRun(bags, warm, cold, statistics.median(ratios), ratios, costs, counter_us, plans)


def report(pages: PagesRun, args: argparse.Namespace) -> list[str]:
    lines = [
        f"TraitorTrack pages, {datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} cores, {pages.bags:,} bags, gunicorn"
        f" {args.workers} gevent workers + Redis; wrk, {args.repeats} runs of {args.page_seconds} s each, medians",
        "",
        *table(pages.warm + pages.cold, pages.ratio, pages.ratios),
        "",
        "Latencies are wrk's (client side), which it corrects for coordinated omission: a request that stalls"
        " counts as the requests that would have been sent meanwhile, so a rare stall shows in p95/p99. p95 and"
        " p99 over each run, then the median of the runs; errors are non-2xx/3xx answers and socket errors"
        " (wrk's 2 s timeout included).",
        "Empty view = GET /health logged in: the whole middleware stack, the session (Redis) and the user (kept in"
        " the process), no work.",
        "Cold = every request computes every figure from PostgreSQL (DASHBOARD_FRESH_SECONDS=0, one client).",
        "",
        "moved off the request path (in-process, medians):",
        *(f"  {name}: {ms:.1f} ms" for name, ms in pages.costs.items()),
        f"request counter (traitortrack.metrics) per request: {pages.counter_us:.2f} µs",
        f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ]
    if pages.plans:
        lines += ["", "plans:", *pages.plans]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (WEB_CONCURRENCY)")
    add_arguments(parser)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    out = ROOT / "bench" / "results" / f"pages-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True)
    text = "\n".join(report(run(args, database_url, out), args))
    print("\n" + text)
    (out / "summary.txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
