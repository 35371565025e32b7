"""The dashboard's figures: bag totals, bills by status, today's scans, scans per hour over the last 24 hours,
today's top dispatchers and the latest scans, for everyone (a dispatcher sees their own area, without bills).

Cheap to compute, and computed seldom:
- Totals never count 2 million bags per request: they are bags.BagTotals (counted per area in one pass by
  one process at most every DASHBOARD_TOTALS_SECONDS, about 0.5 s on 2 million bags, in the background:
  count_again) plus what the bag and scan tables gained since (a primary key range of the newest rows).
- Scans per hour never count a whole day's scans per request either: each hour that is over, and each five
  minutes of the current one, is counted once (scanning.ScanTally, by whichever request first needs it), and
  only the minutes since are counted from an index range of scanning_scan(created_at). The latest scans read
  the same index backwards; bills by status count a small table.
- The figures are cached (the "default" cache, Redis in production) per scope for DASHBOARD_FRESH_SECONDS.
  When they are older, one request recomputes them (under a lock in the cache) while the others get the
  previous ones, so however many screens poll, a scope is computed at most once per interval.
- Nothing is added to the scan loop: scans show within DASHBOARD_FRESH_SECONDS, through that interval.
  Other changes (bills made, imported, finalised, reopened, deleted) are announced by the bills app
  (bills.signals.bills_changed, on commit); stats_changed() hears them and moves the cache's generation on, so
  the next request computes fresh figures (under the same lock).
"""

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, DateTimeField, F, Func, Value
from django.db.models.functions import TruncHour
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from bags.managers import visible_area
from bags.models import BagTotals
from bills.models import Bill, BillStatus
from scanning.choices import PUTS_CHILD_IN, TAKES_CHILD_OUT
from scanning.models import Scan, ScanAction, ScanTally
from scanning.services import scan_time
from traitortrack.replica import on_primary

logger = logging.getLogger(__name__)

CACHE_PREFIX = "dashboard:v1"
GENERATION_KEY = f"{CACHE_PREFIX}:generation"
# Figures kept this long after they go stale, for the requests that find another one recomputing.
KEEP_SECONDS = 300
# Longest a recomputation may hold the lock (it takes milliseconds; a dead worker's lock lapses).
LOCK_SECONDS = 10
HOURS = 24
HOUR = timedelta(hours=1)
SLOT = timedelta(minutes=5)
# A period's scans are counted for good this long after it ends: by then none of them can still be
# committing (a scan's time is taken as its request starts; gunicorn's timeout ends any request in 30 s).
SETTLE = timedelta(minutes=1)
TOP_DISPATCHERS = 5
RECENT = 10


def stats_changed(**signal: Any) -> None:
    """Something the dashboard shows changed outside the scan loop: the next request computes fresh figures.
    A receiver of bills.signals.bills_changed (connected in overview.apps), sent on commit."""
    cache.set(GENERATION_KEY, time.time_ns(), None)


def scope_of(user: User) -> tuple[str, int | None]:
    """The cache scope of a user's dashboard: "all", or one area's for a dispatcher."""
    restricted, area_id = visible_area(user)
    return (f"area-{area_id}", area_id) if restricted else ("all", None)


def dashboard_stats(user: User) -> dict[str, Any]:
    """The user's dashboard figures, as the page and GET /api/dashboard show them."""
    scope, area_id = scope_of(user)
    key = f"{CACHE_PREFIX}:{scope}"
    found = cache.get_many([GENERATION_KEY, key])
    generation, entry = found.get(GENERATION_KEY), found.get(key)
    now, lock = time.time(), None
    if entry is not None:
        if entry["generation"] == generation and now - entry["at"] < settings.DASHBOARD_FRESH_SECONDS:
            return entry["stats"]
        # Stale, or from before a change (stats_changed): one request recomputes them.
        lock = f"{key}:lock"
        if not cache.add(lock, 1, LOCK_SECONDS):
            return entry["stats"]  # another request is recomputing them: these are a moment old
    try:
        stats = compute(area_id=area_id, restricted=scope != "all", with_bills=scope == "all")
        cache.set(key, {"at": now, "generation": generation, "stats": stats}, KEEP_SECONDS)
    finally:
        if lock is not None:
            cache.delete(lock)
    return stats


def compute(*, area_id: int | None, restricted: bool, with_bills: bool) -> dict[str, Any]:
    """The figures, from the database: seven small index-served queries (when the bag totals are older than
    DASHBOARD_TOTALS_SECONDS, a recount is started in the background; when an hour has just ended, its count)."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.DASHBOARD_TOTALS_SECONDS)
    scope = {"area_id": area_id, "restricted": restricted, "puts_in": PUTS_CHILD_IN, "takes_out": TAKES_CHILD_OUT}
    totals, counted_at = BagTotals.objects.current(**scope)
    if counted_at is None:  # never counted (a new install): wait for whoever counts
        BagTotals.objects.refresh(wait=True)
        with on_primary():  # the count just made, which a read replica may not have yet
            totals, counted_at = BagTotals.objects.current(**scope)
    elif counted_at < stale and count_again(older_than=stale):
        totals, counted_at = BagTotals.objects.current(**scope)
    scans = Scan.objects.filter(dispatch_area_id=area_id) if restricted else Scan.objects.all()
    return {
        "generated_at": now.isoformat(),
        # Times for people are the warehouses' local time (settings.TIME_ZONE), as on every page.
        "generated_time": f"{timezone.localtime(now):%H:%M:%S}",
        "totals": {
            "parents": totals.parents,
            "children": totals.children,
            "linked": totals.linked,
            "unlinked": totals.unlinked,
            "counted_at": counted_at.isoformat() if counted_at else None,
        },
        "bills": _bills() if with_bills else None,
        **_scans_by_hour(area_id=area_id, restricted=restricted, now=now),
        "recent": _recent(scans),
    }


_counting = threading.Lock()


def count_again(*, older_than: datetime) -> bool:
    """Count the bag totals again, off the request: in a thread of this process (a greenlet under gunicorn's
    gevent workers), at most one at a time here and, by the count's own lock, one across processes; the figures
    meanwhile are the last count plus what came since. Inside a transaction the count runs in it instead (a
    thread would not see what the transaction wrote): whether it counted then."""
    if connection.in_atomic_block:
        return BagTotals.objects.refresh(older_than=older_than)
    if not _counting.acquire(blocking=False):
        return False  # this process is counting already
    threading.Thread(target=_count, args=(older_than,), name="bag-totals", daemon=True).start()
    return False


def _count(older_than: datetime) -> None:
    try:
        BagTotals.objects.refresh(older_than=older_than)
    except Exception:
        logger.exception("dashboard: counting the bag totals failed")
    finally:
        connection.close()  # this thread's connection, back to the pool
        _counting.release()


def _bills() -> dict[str, int]:
    counts = dict(Bill.objects.order_by().values_list("status").annotate(n=Count("pk")))
    by_status = {status: counts.get(status, 0) for status in BillStatus.values}
    return {**by_status, "total": sum(by_status.values())}


Counts = list[list[int | None]]  # [[dispatch_area_id, user_id, scans], ...]


def _counted(scans, start: datetime, end: datetime, period: Func) -> dict[datetime, Counts]:
    """The scans from ``start`` to ``end`` by ``period`` (an expression of created_at: its period's start), area
    and user: one pass over an index range of scanning_scan(created_at). A bulk import's events are the
    import's, not people's scans: they are left out (the latest scans list shows them)."""
    rows = (
        scans.filter(created_at__gte=start, created_at__lt=end)
        .exclude(action=ScanAction.IMPORT)
        .annotate(period=period)
        .order_by()
        .values_list("period", "dispatch_area_id", "user_id")
        .annotate(n=Count("pk"))
    )
    counted: dict[datetime, Counts] = {}
    for period_start, area, user, n in rows:
        counted.setdefault(period_start, []).append([area, user, n])
    return counted


def _merged(parts: list[Counts]) -> Counts:
    totals: dict[tuple[int | None, int | None], int] = {}
    for counts in parts:
        for area, user, n in counts:
            totals[(area, user)] = totals.get((area, user), 0) + n
    return [[area, user, n] for (area, user), n in totals.items()]


def _tallied(first_hour: datetime, now: datetime) -> tuple[dict[datetime, Counts], datetime]:
    """The counts of the window's periods that are over and settled, by start: whole hours, then five-minute
    slots of the hour that is not; and where the rest (counted live) begins. A period not tallied yet is
    tallied now, once for everyone: an hour from its twelve slots when they are all there, else from the scans."""
    stored = {(row.start, row.minutes): row.counts for row in ScanTally.objects.filter(start__gte=first_hour)}
    hours, slots = [], []
    period = first_hour
    while period + HOUR + SETTLE <= now:
        hours.append(period)
        period += HOUR
    while period + SLOT + SETTLE <= now:
        slots.append(period)
        period += SLOT
    new: list[ScanTally] = []
    missing_hours = []
    for hour in hours:
        if (hour, 60) in stored:
            continue
        parts = [stored.get((hour + i * SLOT, 5)) for i in range(HOUR // SLOT)]
        if all(part is not None for part in parts):
            stored[(hour, 60)] = _merged(parts)
            new.append(ScanTally(start=hour, minutes=60, counts=stored[(hour, 60)]))
        else:
            missing_hours.append(hour)
    if missing_hours:
        counted = _counted(Scan.objects.all(), missing_hours[0], missing_hours[-1] + HOUR, TruncHour("created_at"))
        for hour in missing_hours:
            stored[(hour, 60)] = counted.get(hour, [])
            new.append(ScanTally(start=hour, minutes=60, counts=stored[(hour, 60)]))
    missing_slots = [slot for slot in slots if (slot, 5) not in stored]
    if missing_slots:
        five_minutes = Func(
            Value(SLOT), F("created_at"), Value(first_hour), function="date_bin", output_field=DateTimeField()
        )
        counted = _counted(Scan.objects.all(), missing_slots[0], missing_slots[-1] + SLOT, five_minutes)
        for slot in missing_slots:
            stored[(slot, 5)] = counted.get(slot, [])
            new.append(ScanTally(start=slot, minutes=5, counts=stored[(slot, 5)]))
    if new:
        ScanTally.objects.bulk_create(new, ignore_conflicts=True)
        # The slots of an hour that has its own tally are no longer read.
        ScanTally.objects.filter(minutes=5, start__lt=hours[-1] + HOUR if hours else first_hour).delete()
    tallies = {hour: stored[(hour, 60)] for hour in hours} | {slot: stored[(slot, 5)] for slot in slots}
    return tallies, period


def _scans_by_hour(*, area_id: int | None, restricted: bool, now: datetime) -> dict[str, Any]:
    """Scans per local hour over the last HOURS hours (this one included), and today's total and top
    dispatchers: the periods that are over from ScanTally, the minutes since the last one counted from an
    index range of scanning_scan(created_at)."""
    this_hour = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    first_hour = this_hour - timedelta(hours=HOURS - 1)
    midnight = this_hour.replace(hour=0)
    tallies, live_from = _tallied(first_hour, now)
    scans = Scan.objects.filter(dispatch_area_id=area_id) if restricted else Scan.objects.all()
    periods = [*tallies.items(), *_counted(scans, live_from, now + HOUR, TruncHour("created_at")).items()]
    per_hour: dict[datetime, int] = {}
    per_user: dict[int, int] = {}
    for start, counts in periods:
        hour = timezone.localtime(start).replace(minute=0, second=0, microsecond=0)
        for area, user, n in counts:
            if restricted and area != area_id:
                continue
            per_hour[hour] = per_hour.get(hour, 0) + n
            if hour >= midnight:
                per_user[user] = per_user.get(user, 0) + n
    hours = [first_hour + timedelta(hours=i) for i in range(HOURS)]
    top = sorted(per_user.items(), key=lambda item: -item[1])[:TOP_DISPATCHERS]
    names = dict(User.objects.filter(pk__in=[user for user, _ in top]).values_list("pk", "username")) if top else {}
    ranked = sorted(((names.get(user, "?"), n) for user, n in top), key=lambda item: (-item[1], item[0]))
    return {
        "today": {"scans": sum(per_user.values()), "since": midnight.isoformat()},
        "hours": [
            {"hour": hour.isoformat(), "label": f"{hour:%H}:00", "scans": per_hour.get(hour, 0)} for hour in hours
        ],
        "top_dispatchers": [{"username": username, "scans": n} for username, n in ranked],
    }


def _recent(scans) -> list[dict[str, Any]]:
    labels = dict(ScanAction.choices)
    latest = scans.select_related("user").order_by("-created_at", "-pk")[:RECENT]
    return [
        {
            "at": scan_time(scan.created_at),
            "time": f"{timezone.localtime(scan.created_at):%H:%M}",
            "user": scan.user.username,
            "action": scan.action,
            "action_label": labels.get(scan.action, scan.action),
            "bag": scan.bag_qr,
            "parent": scan.parent_qr,
            "bag_url": reverse("tracking:bag", args=[scan.bag_qr]),
        }
        for scan in latest
    ]
