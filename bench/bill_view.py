"""The bill view on the 2-million-bag data set: a bill of 50 parents x 30 children, timed.

Times, in one process (no network, no gunicorn): the bill view query alone (``Bill.objects.bill_view``,
one raw-SQL statement), the bill page (GET /bills/<id>/ through Django's whole stack: middleware,
session, the query, the template), the JSON detail (GET /api/bills/<id>) and the JSON detail with every
child code (?children=1). Prints the median and p95 of each, and the query's plan with --explain.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tt_bench .venv/bin/python bench/bill_view.py [--runs 300]

Needs a database migrated and seeded with `manage.py seed_bulk --bags 2000000` (the scan benchmark's
tt_bench will do). Makes a draft bill of 50 full mustard parents that are on no bill (and, with
--finalised, finalises it) and deletes it afterwards unless --keep.
"""

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "traitortrack.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tt_bench")

import django  # noqa: E402 (settings first)

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.db.models import Exists, OuterRef  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from accounts.models import Role, User  # noqa: E402
from bags.models import Bag, Product  # noqa: E402
from bills import services  # noqa: E402
from bills.managers import BILL_VIEW_SQL  # noqa: E402
from bills.models import Bill, BillBag  # noqa: E402

BILLER = "bench_biller"
BILL_NUMBER = "BENCH-BILL-VIEW"
TARGET_MS = 60


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def timed(call: Callable[[], object], runs: int, warm: int = 10) -> list[float]:
    for _ in range(warm):
        call()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def make_bill(parents: int, children: int, *, finalise: bool) -> Bill:
    biller, _ = User.objects.get_or_create(username=BILLER, defaults={"role": Role.BILLER})
    Bill.objects.filter(bill_number=BILL_NUMBER).delete()
    mustard = Product.objects.get(code="mustard")
    chosen = list(
        Bag.objects.filter(kind="parent", product=mustard, child_count=children)
        .exclude(Exists(BillBag.objects.current().filter(parent_bag=OuterRef("pk"))))
        .order_by("pk")
        .values_list("pk", flat=True)[:parents]
    )
    if len(chosen) < parents:
        sys.exit(f"Only {len(chosen)} free mustard parents of {children} children here: seed_bulk first.")
    with transaction.atomic():
        bill = Bill.objects.create(
            bill_number=BILL_NUMBER, customer="Benchmark", product=mustard, expected_parents=parents, created_by=biller
        )
        BillBag.objects.bulk_create([BillBag(bill=bill, parent_bag_id=pk, added_by=biller) for pk in chosen])
    if finalise:
        services.finalise_bill(user=biller, bill_id=bill.pk)
    return bill


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--parents", type=int, default=50)
    parser.add_argument("--children", type=int, default=30)
    parser.add_argument("--finalised", action="store_true", help="time a finalised bill (read from its snapshot)")
    parser.add_argument("--explain", action="store_true", help="print the query's plan (EXPLAIN ANALYZE, BUFFERS)")
    parser.add_argument("--keep", action="store_true", help="keep the bill afterwards")
    options = parser.parse_args()

    bags = Bag.objects.count()
    bill = make_bill(options.parents, options.children, finalise=options.finalised)
    print(f"{bags:,} bags; bill {bill.bill_number} (id {bill.pk}): {options.parents} parents x {options.children}")
    try:
        if options.explain:
            for with_children in (False, True):
                with connection.cursor() as cursor:
                    cursor.execute(
                        "EXPLAIN (ANALYZE, BUFFERS) " + BILL_VIEW_SQL,
                        {"bill_id": bill.pk, "with_children": with_children},
                    )
                    print(f"-- with_children={with_children}")
                    print("\n".join(row[0] for row in cursor.fetchall()))
        # The app's static files need collectstatic in production; the page's template only names them.
        plain_static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
        with override_settings(
            STORAGES={
                "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
                "staticfiles": plain_static,
            }
        ):
            client = Client(HTTP_HOST="127.0.0.1")
            client.force_login(User.objects.get(username=BILLER))
            page_url, api_url = f"/bills/{bill.pk}/", f"/api/bills/{bill.pk}"
            assert client.get(page_url).status_code == 200
            results = {
                "query (bill_view)": timed(lambda: Bill.objects.bill_view(bill.pk), options.runs),
                "page GET /bills/<id>/": timed(lambda: client.get(page_url), options.runs),
                "JSON GET /api/bills/<id>": timed(lambda: client.get(api_url), options.runs),
                "JSON with child codes": timed(lambda: client.get(api_url + "?children=1"), options.runs),
            }
        print(f"runs: {options.runs}; target: < {TARGET_MS} ms")
        print(f"{'what':<28} {'median ms':>10} {'p95 ms':>8} {'min ms':>8}")
        for name, samples in results.items():
            median, p95 = statistics.median(samples), percentile(samples, 0.95)
            print(f"{name:<28} {median:>10.2f} {p95:>8.2f} {min(samples):>8.2f}")
    finally:
        if not options.keep:
            Bill.objects.filter(pk=bill.pk).delete()


if __name__ == "__main__":
    main()
