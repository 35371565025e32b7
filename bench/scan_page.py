"""The scan page in a real Chromium against the app as in production: what a dispatcher waits for.

Starts the app as bench/scan_loop.py does (gunicorn -c traitortrack/gunicorn.conf.py, 2 gevent workers, the
psycopg pool, Redis) on the scratch database tt_bench_scan_page (made and migrated here; a few thousand rows:
the page's time is the browser's and one scan's round trip, not the table's size), logs a dispatcher in
through the login form in headless Chromium (/usr/bin/chromium, or E2E_CHROMIUM) and measures:

- online scans: --scans children, 29 to a parent, one at a time, from the Enter key to the answer's colour
  (performance.now() in the page): median and p95;
- offline: --queued children queued with no network (Enter to "waiting"), then the replay: from the network
  coming back to an empty queue, and scans a second;
- the page opened offline from the service worker's cache: reload to a focused scan input, median of 5;
- two tabs: --queued children queued offline alternately in two tabs of one browser, the replay's time, and
  the database's word that each was recorded once.

    .venv/bin/python bench/scan_page.py [--scans 150] [--queued 100]

Needs the PostgreSQL at 127.0.0.1:5432 (user postgres) and Redis; BENCH_REDIS_URL picks the Redis database
(default 2). Prints one table; --drop drops the database at the end.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import datetime

import psycopg
from scan_loop import PASSWORD, ROOT, Gunicorn, ensure_dispatchers, free_parent_codes, manage

SERVER = "postgres://postgres@127.0.0.1:5432"
SCRATCH = "tt_bench_scan_page"
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
USERNAME = "bench_d001"  # ensure_dispatchers' first dispatcher
CAPACITY = 30

# Enter pressed -> the status panel's next answer (ok, refused, waiting; idle for a command the page acts on
# alone), in ms, in window.__answers.
RECORDER = """
window.__answers = [];
document.addEventListener("keydown", (event) => {
  if (event.key === "Enter") window.__enter = performance.now();
}, true);
document.addEventListener("DOMContentLoaded", () => {
  const status = document.getElementById("scan-status");
  if (!status) return;
  new MutationObserver(() => {
    const state = status.dataset.state;
    if (window.__enter !== undefined && ["ok", "refused", "waiting", "idle"].includes(state)) {
      window.__answers.push({ state, ms: performance.now() - window.__enter });
      window.__enter = undefined;
    }
  }).observe(status, { attributes: true, attributeFilter: ["data-state"] });
});
"""
SHELL_READY = """
async () => {
  if (!navigator.serviceWorker.controller) return false;
  for (const name of await caches.keys()) {
    if (name.startsWith("tt-page-") && (await (await caches.open(name)).match("/scan/"))) return true;
  }
  return false;
}
"""


def ensure_database(database_url: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as server:
        if not server.execute("SELECT 1 FROM pg_database WHERE datname = %s", (SCRATCH,)).fetchone():
            server.execute(f"CREATE DATABASE {SCRATCH}")
    manage(database_url, "migrate", "--no-input", "-v0")
    manage(database_url, "collectstatic", "--no-input", "-v0")


def read(page, code: str) -> dict:
    """A keyboard-wedge read, and the answer it got."""
    count = page.evaluate("window.__answers.length")
    page.keyboard.type(code)
    page.keyboard.press("Enter")
    page.wait_for_function("(n) => window.__answers.length > n", arg=count)
    return page.evaluate("window.__answers[window.__answers.length - 1]")


RUN = datetime.now().strftime("%m%d%H%M%S")  # each run's child codes are new bags


def codes(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{RUN}{n:04d}" for n in range(count)]


def fill(page, parents: iter, children: list[str]) -> list[float]:
    """Scans the children, 29 to a parent (never full, so no parent ends by itself); each child's ms."""
    times = []
    for index, child in enumerate(children):
        if index % (CAPACITY - 1) == 0:
            read(page, "TT-CMD-NEW-PARENT")  # whatever parent was open before
            read(page, next(parents))
        answer = read(page, child)
        times.append(answer["ms"])
    return times


def wait_sent(pages, timeout_s: float = 120) -> float:
    started = time.perf_counter()
    for page in pages:
        page.wait_for_selector("#scan-app[data-waiting='0']", state="attached", timeout=timeout_s * 1000)
    return time.perf_counter() - started


def recorded(database_url: str, children: list[str]) -> tuple[int, int]:
    """(link events, distinct children) of these children."""
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT count(*), count(DISTINCT bag_qr) FROM scanning_scan WHERE action = 'link' AND bag_qr = ANY(%s)",
            (children,),
        ).fetchone()


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def spread(times: list[float]) -> str:
    return f"median {statistics.median(times):.1f} ms, p95 {p95(times):.1f} ms ({len(times)} scans)"


def measure(args, base_url: str, database_url: str) -> list[tuple[str, str]]:
    from playwright.sync_api import sync_playwright

    parents = iter(free_parent_codes(database_url, 20 + (args.scans + 2 * args.queued) // (CAPACITY - 1)))
    rows = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(base_url=base_url)
        context.add_init_script(RECORDER)
        page = context.new_page()
        page.goto("/accounts/login/?next=/scan/")
        page.fill("input[name=username]", USERNAME)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/scan/")
        page.wait_for_function(SHELL_READY, polling=200)

        online = codes("BON", args.scans)
        times = fill(page, parents, online)
        rows.append(("online scan, Enter to answer", spread(times)))

        context.set_offline(True)
        queued = codes("BOFF", args.queued)
        times = fill(page, parents, queued)
        rows.append(("offline scan, Enter to 'waiting'", spread(times)))
        reloads = []
        for _ in range(5):
            started = time.perf_counter()
            page.reload()
            page.wait_for_function("() => document.activeElement && document.activeElement.id === 'scan-input'")
            reloads.append((time.perf_counter() - started) * 1000)
        rows.append(("reload with no network (page from the cache)", f"median {statistics.median(reloads):.0f} ms"))
        waiting = page.evaluate("Number(document.getElementById('scan-app').dataset.waiting)")
        context.set_offline(False)
        seconds = wait_sent([page])
        links, distinct = recorded(database_url, queued)
        rows.append(
            (
                f"replay of {waiting} waiting (parents, children, commands)",
                f"{seconds:.2f} s, {waiting / seconds:.0f} a second; "
                f"{links} links for {distinct} of {len(queued)} children",
            )
        )

        other = context.new_page()
        other.goto("/scan/")
        other.wait_for_selector("#scan-input:focus")
        read(page, "TT-CMD-NEW-PARENT")
        read(page, next(parents))
        other.reload()  # the parent is kept per user: the second tab fills it too
        other.wait_for_selector("#parent-code:not(:empty)")
        context.set_offline(True)
        shared = codes("BTAB", min(args.queued, CAPACITY - 1))
        for index, code in enumerate(shared):
            read(page if index % 2 == 0 else other, code)
        context.set_offline(False)
        seconds = wait_sent([page, other])
        links, distinct = recorded(database_url, shared)
        rows.append(
            (
                f"two tabs: {len(shared)} queued alternately, replay",
                f"{seconds:.2f} s; {links} links for {distinct} of {len(shared)} children",
            )
        )
        browser.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scans", type=int, default=150, help="children scanned online (%(default)s)")
    parser.add_argument("--queued", type=int, default=100, help="children queued offline (%(default)s)")
    parser.add_argument("--drop", action="store_true", help=f"drop the database {SCRATCH} at the end")
    args = parser.parse_args()
    database_url = f"{SERVER}/{SCRATCH}"
    out = ROOT / "bench" / "results" / f"scan-page-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True)
    try:
        ensure_database(database_url)
        ensure_dispatchers(database_url, 1)
        app = Gunicorn(database_url, 2, out / "gunicorn.log")
        app.env["REDIS_URL"] = app.overrides["REDIS_URL"] = os.environ.get(
            "BENCH_REDIS_URL", "redis://127.0.0.1:6379/2"
        )
        print(f"app: {app.command}", flush=True)
        with app:
            rows = measure(args, app.url, database_url)
    finally:
        if args.drop:
            with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as server:
                server.execute(f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)")
    width = max(len(what) for what, _ in rows)
    lines = [f"{what:<{width}}  {figure}" for what, figure in rows]
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
