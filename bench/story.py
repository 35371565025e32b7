"""A bag's story on the 2-million-bag data set: the timeline and the as-of, timed on random bags.

Times, in one process (no network, no gunicorn), each sample a different random bag: the timeline statement
(tracking.story.TIMELINE_SQL) and the as-of statement (AS_OF_SQL, at a random time of the year of history)
for parents and for children, then the bag page (GET /bags/<code>/: its detail, its story, the template) and
GET /api/bags/<code>?at= through Django's whole stack. Prints the median and p95 of each, against the target
(p95 < 20 ms), and with --explain the plans of both statements for one parent.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tt_bench .venv/bin/python bench/story.py [--runs 1000]

Needs a database migrated and seeded with `manage.py seed_bulk --bags 2000000 --with-scans` (the scan
benchmark's tt_bench will do). The seed's history is each parent's opening and each child's link; so that the
parents' stories have bills too, the first run puts 1,000 full parents on 20 bills of 50 and finalises half of
the bills (through the bill services, so their events are the triggers'), and later runs find them there.
"""

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "traitortrack.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tt_bench")

import django  # noqa: E402 (settings first)

django.setup()

from django.db import connection  # noqa: E402
from django.db.models import Exists, OuterRef  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Role, User  # noqa: E402
from bags.models import Bag, Product  # noqa: E402
from bills import services  # noqa: E402
from bills.models import Bill, BillBag  # noqa: E402
from tracking import story  # noqa: E402

BILLER = "bench_biller"
BILL_PREFIX = "BENCH-STORY-"
BILLS, PARENTS_A_BILL = 20, 50
TARGET_MS = 20


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def timed(call: Callable[[Bag], object], bags: list[Bag], warm: int = 20) -> list[float]:
    for bag in bags[:warm]:
        call(bag)
    samples = []
    for bag in bags:
        start = time.perf_counter()
        call(bag)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def ensure_bills(biller: User) -> None:
    """20 bills of 50 full mustard parents, half finalised: bill events in the parents' stories."""
    if Bill.objects.filter(bill_number__startswith=BILL_PREFIX).exists():
        return
    mustard = Product.objects.get(code="mustard")
    free = (
        Bag.objects.filter(kind="parent", product=mustard, child_count=mustard.capacity)
        .exclude(Exists(BillBag.objects.current().filter(parent_bag=OuterRef("pk"))))
        .order_by("pk")
        .values_list("qr_id", flat=True)
    )
    chosen = list(free[: BILLS * PARENTS_A_BILL])
    print(f"putting {len(chosen)} parents on {BILLS} bills (once)", flush=True)
    for n in range(BILLS):
        change = services.create_bill(
            user=biller,
            bill_number=f"{BILL_PREFIX}{n:02d}",
            customer="Benchmark",
            bill_date=timezone.localdate(),
            product=mustard,
            expected_parents=PARENTS_A_BILL,
        )
        for code in chosen[n * PARENTS_A_BILL : (n + 1) * PARENTS_A_BILL]:
            services.add_parent(user=biller, bill_id=change.bill.pk, raw_code=code)
        if n % 2 == 0:
            services.finalise_bill(user=biller, bill_id=change.bill.pk)


def random_bags(kind: str, count: int, *, billed_share: float = 0.0) -> list[Bag]:
    """``count`` random bags of a kind (random ids in the table's range: no ORDER BY random() over 2 million)."""
    low, high = (
        Bag.objects.filter(kind=kind).order_by("pk").values_list("pk", flat=True).first(),
        Bag.objects.filter(kind=kind).order_by("-pk").values_list("pk", flat=True).first(),
    )
    bags: list[Bag] = []
    while len(bags) < count:
        ids = random.sample(range(low, high + 1), min(count * 2, high - low + 1))
        bags += list(Bag.objects.filter(pk__in=ids, kind=kind))
    bags = bags[:count]
    if billed_share:
        billed = list(
            Bag.objects.filter(bill_entries__bill__bill_number__startswith=BILL_PREFIX).order_by("?")[
                : int(count * billed_share)
            ]
        )
        bags = billed + bags[len(billed) :]
        random.shuffle(bags)
    return bags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1000, help="bags of each kind timed (each once per measure)")
    parser.add_argument("--explain", action="store_true", help="print both statements' plans for one parent")
    options = parser.parse_args()
    random.seed(17)

    biller, _ = User.objects.get_or_create(username=BILLER, defaults={"role": Role.BILLER})
    ensure_bills(biller)
    parents = random_bags("parent", options.runs, billed_share=0.2)
    children = random_bags("child", options.runs)
    now, year = timezone.now(), timedelta(days=365)

    def at() -> object:
        return now - year * random.random()

    def as_of(bag: Bag) -> story.AsOf:
        return story.as_of(bag.qr_id, kind=bag.kind, created_at=bag.created_at, at=at(), restricted=False, area_id=None)

    def timeline(bag: Bag) -> list:
        return story.timeline(bag.qr_id, restricted=False, area_id=None)

    if options.explain:
        bag = parents[0]
        for name, sql, params in (
            ("timeline", story.TIMELINE_SQL, {"limit": story.TIMELINE_LIMIT}),
            ("as-of", story.AS_OF_SQL, {"kind": bag.kind, "at": now - year / 2}),
        ):
            with connection.cursor() as cursor:
                base = {"qr_id": bag.qr_id, "restricted": False, "area_id": None, "puts_in": story.PUTS_IN}
                base |= {"child_actions": story.CHILD_ACTIONS, "on_bill": list(story.ON_BILL)}
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, {**base, **params})
                print(f"-- {name} of {bag.qr_id}")
                print("\n".join(row[0] for row in cursor.fetchall()))

    events = [len(timeline(bag)) for bag in parents[:100]]
    print(f"{Bag.objects.count():,} bags; a parent's story holds {min(events)} to {max(events)} events", flush=True)
    results = {
        "timeline, parent": timed(timeline, parents),
        "timeline, child": timed(timeline, children),
        "as-of, parent": timed(as_of, parents),
        "as-of, child": timed(as_of, children),
    }
    plain_static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    storages = {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}, "staticfiles": plain_static}
    with override_settings(STORAGES=storages):
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(biller)
        mixed = [bag for pair in zip(parents, children, strict=True) for bag in pair][: options.runs]
        results["page GET /bags/<code>/"] = timed(lambda bag: client.get(f"/bags/{bag.qr_id}/"), mixed)
        results["page with ?at="] = timed(
            lambda bag: client.get(f"/bags/{bag.qr_id}/", {"at": at().isoformat()}), mixed
        )
        results["JSON /api/bags/<code>?at="] = timed(
            lambda bag: client.get(f"/api/bags/{bag.qr_id}", {"at": at().isoformat()}), mixed
        )
    print(f"bags timed: {options.runs} of each kind; target: p95 < {TARGET_MS} ms (the statements)")
    print(f"{'what':<28} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}")
    for name, samples in results.items():
        median, p95 = statistics.median(samples), percentile(samples, 0.95)
        print(f"{name:<28} {median:>10.2f} {p95:>8.2f} {max(samples):>8.2f}")


if __name__ == "__main__":
    main()
