"""The bag list (/bags/, tracking/bag_list.py) on the 2-million-bag data set: every sort with every filter, timed.

For each sort and each filter (none, each one alone, a few pairs), the first page and the page after it, as a
biller (every area) and as a dispatcher (one area), in one process (the query only: no network, no template).
Prints each combination's median and worst over the runs, and which were refused by the time limit.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tt_bench .venv/bin/python bench/bag_list.py [--runs 5]

Needs a database migrated and seeded with `manage.py seed_bulk --bags 2000000 --with-scans` (the harness's
tt_bench will do). The "on a bill" and "returned" filters find what the data set has (seed_bulk makes no
bills); "scanned by" takes the user with the most scan events and, when there is one, a user with a few.
"""

import argparse
import os
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

from django.db.models import Count  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import DispatchArea, Role, User  # noqa: E402
from bags.models import Bag, BagKind, Product  # noqa: E402
from bags.selectors import SearchTooBroad  # noqa: E402
from scanning.models import Scan  # noqa: E402
from tracking.bag_list import NO, SORT_LABELS, YES, BagFilter, list_bags  # noqa: E402


def filters() -> dict[str, BagFilter]:
    area = DispatchArea.objects.annotate(held=Count("bags")).filter(held__gt=0).order_by("held").first()
    counts = Scan.objects.values("user").annotate(n=Count("id")).order_by("n")
    busiest = User.objects.get(pk=counts.last()["user"])
    fewest = User.objects.get(pk=counts.first()["user"])
    day = timezone.localdate() - timedelta(days=180)
    mustard = Product.objects.get(code="mustard")
    cases = {
        "none": BagFilter(),
        "parents": BagFilter(kind=BagKind.PARENT),
        "children": BagFilter(kind=BagKind.CHILD),
        "code start CB00012": BagFilter(prefix="CB00012"),
        "product mustard": BagFilter(product=mustard),
        f"area {area.code} (smallest)": BagFilter(area=area),
        "empty parents": BagFilter(holds=NO),
        "in a parent": BagFilter(in_parent=YES),
        "in no parent": BagFilter(in_parent=NO),
        "on a bill": BagFilter(on_bill=YES),
        "on no bill": BagFilter(on_bill=NO),
        "returned": BagFilter(returned=YES),
        f"scanned by {busiest} (most)": BagFilter(scanned_by=busiest),
        "one day": BagFilter(date_from=day, date_to=day),
        "children in no parent, one day": BagFilter(kind=BagKind.CHILD, in_parent=NO, date_from=day, date_to=day),
        "parents on no bill, mustard": BagFilter(on_bill=NO, product=mustard),
    }
    if fewest != busiest:
        cases[f"scanned by {fewest} (fewest)"] = BagFilter(scanned_by=fewest)
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"{Bag.objects.count():,} bags")
    biller = User.objects.filter(role__in=[Role.BILLER, Role.ADMIN]).first()
    dispatcher = User.objects.filter(role=Role.DISPATCHER).first()
    cases = filters()
    worst_all, refused = [], []
    for who, user in (("biller", biller), ("dispatcher", dispatcher)):
        for sort in SORT_LABELS:
            for name, bag_filter in cases.items():
                samples, outcome = [], ""
                for _ in range(args.runs):
                    start = time.perf_counter()
                    try:
                        page = list_bags(user, bag_filter, sort=sort)
                        if page.next_after:
                            list_bags(user, bag_filter, sort=sort, after=page.next_after)
                        outcome = f"{len(page.rows)} rows"
                    except SearchTooBroad:
                        outcome = "refused"
                    samples.append((time.perf_counter() - start) * 1000 / (2 if outcome != "refused" else 1))
                if outcome == "refused":
                    refused.append(f"{who} {sort} {name}")
                else:
                    worst_all.append(max(samples))
                print(
                    f"{who:10} {sort:10} {name:36} median {statistics.median(samples):7.1f} ms  "
                    f"worst {max(samples):7.1f} ms  {outcome}"
                )
    ordered = sorted(worst_all)
    print(
        f"\n{len(ordered)} combinations answered: median of worsts {statistics.median(ordered):.1f} ms, "
        f"p95 {ordered[int(0.95 * (len(ordered) - 1))]:.1f} ms, max {ordered[-1]:.1f} ms"
    )
    print(f"{len(refused)} refused (the time limit): " + "; ".join(refused))


if __name__ == "__main__":
    main()
