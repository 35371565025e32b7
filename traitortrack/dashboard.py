"""The dashboard's figures: bag totals, bills by status, today's scans, scans per hour over the last 24 hours,
today's top dispatchers and the latest scans, for everyone (a dispatcher sees their own area, without bills).

Cheap to compute, and computed seldom:
- Totals never count 2 million bags per request: they are bags.BagTotals (counted per area in one pass by
  one process at most every DASHBOARD_TOTALS_SECONDS, about 0.3 s on 2 million bags) plus what the bag and
  scan tables gained since (a primary key range of the newest rows). The rest reads indexes: scans by
  scanning_scan(created_at) (or (dispatch_area, created_at)), bills by status on a small table.
- The figures are cached (the "default" cache, Redis in production) per scope for DASHBOARD_FRESH_SECONDS.
  When they are older, one request recomputes them (under a lock in the cache) while the others get the
  previous ones, so however many screens poll, a scope is computed at most once per interval.
- Nothing is added to the scan loop: scans show within DASHBOARD_FRESH_SECONDS, through that interval.
  Other changes (bills made, finalised, reopened) call stats_changed() on commit, which moves the cache's
  generation on so the next request computes fresh figures.
"""

import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count
from django.db.models.functions import TruncHour
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from bags.managers import visible_area
from bags.models import BagTotals
from bills.models import Bill, BillStatus
from scanning.models import Scan, ScanAction
from scanning.services import scan_time

CACHE_PREFIX = "dashboard:v1"
GENERATION_KEY = f"{CACHE_PREFIX}:generation"
# Figures kept this long after they go stale, for the requests that find another one recomputing.
KEEP_SECONDS = 300
# Longest a recomputation may hold the lock (it takes milliseconds; a dead worker's lock lapses).
LOCK_SECONDS = 10
HOURS = 24
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
    """The figures, from the database: about six index-served queries (and, when the bag totals are older
    than DASHBOARD_TOTALS_SECONDS, their recount by this process if no other is recounting)."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.DASHBOARD_TOTALS_SECONDS)
    totals, counted_at = BagTotals.objects.current(area_id=area_id, restricted=restricted)
    # Never counted (a new install): wait for whoever counts. Counted but stale: count unless another is.
    stale_totals = counted_at is None or counted_at < stale
    if stale_totals and BagTotals.objects.refresh(older_than=stale, wait=counted_at is None):
        totals, counted_at = BagTotals.objects.current(area_id=area_id, restricted=restricted)
    scans = Scan.objects.all()
    if restricted:
        scans = scans.filter(dispatch_area_id=area_id)
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
        **_scans_by_hour(scans, now),
        "recent": _recent(scans),
    }


def _bills() -> dict[str, int]:
    counts = dict(Bill.objects.order_by().values_list("status").annotate(n=Count("pk")))
    by_status = {status: counts.get(status, 0) for status in BillStatus.values}
    return {**by_status, "total": sum(by_status.values())}


def _scans_by_hour(scans, now: datetime) -> dict[str, Any]:
    """Scans per local hour over the last HOURS hours (this one included), and today's total and top
    dispatchers from the same rows: one pass over an index range of scanning_scan(created_at)."""
    this_hour = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    first_hour = this_hour - timedelta(hours=HOURS - 1)
    midnight = this_hour.replace(hour=0)
    rows = (
        scans.filter(created_at__gte=first_hour)
        .annotate(hour=TruncHour("created_at"))
        .order_by()
        .values_list("hour", "user__username")
        .annotate(n=Count("pk"))
    )
    per_hour: dict[datetime, int] = {}
    per_user: dict[str, int] = {}
    for hour, username, n in rows:
        per_hour[hour] = per_hour.get(hour, 0) + n
        if hour >= midnight:
            per_user[username] = per_user.get(username, 0) + n
    hours = [first_hour + timedelta(hours=i) for i in range(HOURS)]
    top = sorted(per_user.items(), key=lambda item: (-item[1], item[0]))[:TOP_DISPATCHERS]
    return {
        "today": {"scans": sum(per_user.values()), "since": midnight.isoformat()},
        "hours": [
            {"hour": hour.isoformat(), "label": f"{hour:%H}:00", "scans": per_hour.get(hour, 0)} for hour in hours
        ],
        "top_dispatchers": [{"username": username, "scans": n} for username, n in top],
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
