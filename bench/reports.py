"""The reports page (/reports/) on the 2-million-bag data set: a 30-day report, cold and warm.

Times, in one process (no network, no gunicorn), GET /reports/?date_from=&date_to= of 30 local days through
Django's whole stack as a biller, and reports.figures.build() alone:
- cold: each sample a different 30-day window of the year of history, on a new database connection (the
  connection closed before it; the operating system's and PostgreSQL's caches cannot be dropped here), and
  no app cache (the report keeps none);
- warm: the same window again and again on the same connection;
then, for the ratio, the same 30 days counted from the events themselves (scanning.tallies.counted_rows, what
a report would cost without the tallies). Prints median and p95 against the target (p95 < 100 ms cold), and
how long the first tally (the whole year) took.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tt_bench .venv/bin/python bench/reports.py [--runs 200]

Needs a database migrated and seeded with `manage.py seed_bulk --bags 2000000 --with-scans`; the first run
fills the tallies (scanning.ReportTally) as the periodic job would, later runs only add the last minutes.
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "traitortrack.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tt_bench")

import django  # noqa: E402 (settings first)

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Role, User  # noqa: E402
from reports import figures  # noqa: E402
from scanning import tallies  # noqa: E402
from traitortrack.forms import local_day_start  # noqa: E402

BILLER = "bench_biller"
DAYS = 30
TARGET_MS = 100


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def show(name: str, samples: list[float], target: float | None = None) -> float:
    p95 = percentile(samples, 0.95)
    verdict = "" if target is None else ("  met" if p95 < target else "  MISSED")
    print(
        f"{name:<52} median {statistics.median(samples):7.1f} ms  p95 {p95:7.1f} ms  max {max(samples):7.1f}{verdict}"
    )
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200, help="samples of each measure")
    parser.add_argument("--raw-runs", type=int, default=5, help="samples counted from the events (slow)")
    options = parser.parse_args()
    random.seed(19)

    start = time.perf_counter()
    first_tally = tallies.tallied_until() is None
    tallies.tally()
    print(
        f"tally {'of the whole history (first run)' if first_tally else 'since the last run'}: "
        f"{time.perf_counter() - start:.1f} s"
    )

    biller, _ = User.objects.get_or_create(username=BILLER, defaults={"role": Role.BILLER})
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(biller)
    today = timezone.localdate()
    windows = [today - timedelta(days=random.randrange(0, 330)) for _ in range(options.runs)]

    def page(last) -> None:
        query = {"date_from": (last - timedelta(days=DAYS - 1)).isoformat(), "date_to": last.isoformat()}
        response = client.get("/reports/", query)
        assert response.status_code == 200, response.status_code

    def timed(call, arguments, *, new_connection: bool) -> list[float]:
        samples = []
        for argument in arguments:
            if new_connection:
                connection.close()
            begin = time.perf_counter()
            call(argument)
            samples.append((time.perf_counter() - begin) * 1000)
        return samples

    def build(last) -> None:
        figures.build(last - timedelta(days=DAYS - 1), last)

    # The page's static URLs without collectstatic's manifest (as bench/story.py).
    plain_static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    storages = {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}, "staticfiles": plain_static}
    with override_settings(STORAGES=storages):
        page(today)  # imports, templates compiled: once per process, not per request
        print(f"30-day report, {options.runs} samples, 2M-bag database")
        cold = show(
            "GET /reports/ cold (new connection, new window)", timed(page, windows, new_connection=True), TARGET_MS
        )
        show("figures.build() cold", timed(build, windows[::-1], new_connection=True))
        warm = show(
            "GET /reports/ warm (same window, same connection)",
            timed(page, [today] * options.runs, new_connection=False),
        )
        show("figures.build() warm", timed(build, [today] * options.runs, new_connection=False))

    def raw(last) -> None:
        begin = local_day_start(last - timedelta(days=DAYS - 1))
        tallies.counted_rows(begin, local_day_start(last + timedelta(days=1)))

    counted = show(
        "the same 30 days counted from the events", timed(raw, windows[: options.raw_runs], new_connection=True)
    )
    print(f"ratios: cold/warm page {cold / warm:.1f}x; events counted / tallied page (cold) {counted / cold:.0f}x")


if __name__ == "__main__":
    main()
