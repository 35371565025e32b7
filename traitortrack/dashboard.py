"""The dashboard's figures: bag totals, bills by status, today's scans, scans per hour over the last 24 hours,
today's top dispatchers and the latest scans, for everyone (a dispatcher sees their own area, without bills).

Cheap to compute, and computed seldom:
- Totals never count 2 million bags per request: they are bags.BagTotals (counted per area in one pass by
  one process at most every DASHBOARD_TOTALS_SECONDS, about 0.5 s on 2 million bags, in the background:
  count_again) plus what the bag and scan tables gained since (a primary key range of the newest rows).
- Scans per hour never count a whole day's scans per request either: an hour that is over is counted once
  (scanning.ScanHour, by whichever request first needs it) and only the current hour is counted from an
  index range of scanning_scan(created_at). The latest scans read the same index backwards; bills by
  status count a small table.
- The figures are cached (the "default" cache, Redis in production) per scope for DASHBOARD_FRESH_SECONDS.
  When they are older, one request recomputes them (under a lock in the cache) while the others get the
  previous ones, so however many screens poll, a scope is computed at most once per interval.
- Nothing is added to the scan loop: scans show within DASHBOARD_FRESH_SECONDS, through that interval.
  Other changes (bills made, finalised, reopened) call stats_changed() on commit, which moves the cache's
  generation on so the next request computes fresh figures.
"""

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count
from django.db.models.functions import TruncHour
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from bags.managers import visible_area
from bags.models import BagTotals
from bills.models import Bill, BillStatus
from scanning.models import Scan, ScanAction, ScanHour
from scanning.services import scan_time

logger = logging.getLogger(__name__)

CACHE_PREFIX = "dashboard:v1"
GENERATION_KEY = f"{CACHE_PREFIX}:generation"
# Figures kept this long after they go stale, for the requests that find another one recomputing.
KEEP_SECONDS = 300
# Longest a recomputation may hold the lock (it takes milliseconds; a dead worker's lock lapses).
LOCK_SECONDS = 10
HOURS = 24
# An hour's scans are counted for good this long after it ends: by then none of them can still be
# committing (a scan's time is taken as its request starts; gunicorn's timeout ends any request in 30 s).
SETTLE = timedelta(minutes=2)
TOP_DISPATCHERS = 5
RECENT = 10


def stats_changed() -> None:
    """Something the dashboard shows changed outside the scan loop: the next request computes fresh figures.
    Call it in transaction.on_commit."""
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
    now = time.time()
    if entry is not None and entry["generation"] == generation:
        if now - entry["at"] < settings.DASHBOARD_FRESH_SECONDS:
            return entry["stats"]
        if not cache.add(f"{key}:lock", 1, LOCK_SECONDS):
            return entry["stats"]  # another request is recomputing them: these are a few seconds old
    stats = compute(area_id=area_id, restricted=scope != "all", with_bills=scope == "all")
    cache.set(key, {"at": now, "generation": generation, "stats": stats}, KEEP_SECONDS)
    cache.delete(f"{key}:lock")
    return stats


def compute(*, area_id: int | None, restricted: bool, with_bills: bool) -> dict[str, Any]:
    """The figures, from the database: seven small index-served queries (when the bag totals are older than
    DASHBOARD_TOTALS_SECONDS, a recount is started in the background; when an hour has just ended, its count)."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.DASHBOARD_TOTALS_SECONDS)
    totals, counted_at = BagTotals.objects.current(area_id=area_id, restricted=restricted)
    if counted_at is None:  # never counted (a new install): wait for whoever counts
        BagTotals.objects.refresh(wait=True)
        totals, counted_at = BagTotals.objects.current(area_id=area_id, restricted=restricted)
    elif counted_at < stale and count_again(older_than=stale):
        totals, counted_at = BagTotals.objects.current(area_id=area_id, restricted=restricted)
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


def _closed_hours(first_hour: datetime, now: datetime) -> dict[datetime, list[list[int | None]]]:
    """The counts of the hours from ``first_hour`` that are over and settled, counting (once, for everyone)
    those not counted yet."""
    counted = {row.hour: row.counts for row in ScanHour.objects.filter(hour__gte=first_hour)}
    hour = first_hour
    missing = []
    while hour + timedelta(hours=1) + SETTLE <= now:
        if hour not in counted:
            missing.append(hour)
        hour += timedelta(hours=1)
    if missing:
        # One pass over the missing hours' scans (an index range), split by hour here.
        by_hour: dict[datetime, list[list[int | None]]] = {hour: [] for hour in missing}
        rows = (
            Scan.objects.filter(created_at__gte=missing[0], created_at__lt=missing[-1] + timedelta(hours=1))
            .annotate(hour=TruncHour("created_at"))
            .order_by()
            .values_list("hour", "dispatch_area_id", "user_id")
            .annotate(n=Count("pk"))
        )
        for row_hour, area, user, n in rows:
            if row_hour in by_hour:
                by_hour[row_hour].append([area, user, n])
        ScanHour.objects.bulk_create(
            [ScanHour(hour=hour, counts=counts) for hour, counts in by_hour.items()], ignore_conflicts=True
        )
        counted.update(by_hour)
    return counted


def _scans_by_hour(*, area_id: int | None, restricted: bool, now: datetime) -> dict[str, Any]:
    """Scans per local hour over the last HOURS hours (this one included), and today's total and top
    dispatchers: the hours that are over from ScanHour, the rest counted from an index range of
    scanning_scan(created_at)."""
    this_hour = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    first_hour = this_hour - timedelta(hours=HOURS - 1)
    midnight = this_hour.replace(hour=0)
    counted = _closed_hours(first_hour, now)
    hours = [first_hour + timedelta(hours=i) for i in range(HOURS)]
    live_from = next((hour for hour in hours if hour not in counted), None)
    per_hour: dict[datetime, int] = {}
    per_user: dict[int, int] = {}

    def add(hour: datetime, counts) -> None:
        for area, user, n in counts:
            if restricted and area != area_id:
                continue
            per_hour[hour] = per_hour.get(hour, 0) + n
            if hour >= midnight:
                per_user[user] = per_user.get(user, 0) + n

    for hour in hours:
        if hour in counted:
            add(hour, counted[hour])
    if live_from is not None:
        scans = Scan.objects.filter(dispatch_area_id=area_id) if restricted else Scan.objects.all()
        live = (
            scans.filter(created_at__gte=live_from)
            .annotate(hour=TruncHour("created_at"))
            .order_by()
            .values_list("hour", "dispatch_area_id", "user_id")
            .annotate(n=Count("pk"))
        )
        for hour, area, user, n in live:
            add(hour, [[area, user, n]])
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
            "bag_url": reverse("bags:detail", args=[scan.bag_qr]),
        }
        for scan in latest
    ]
