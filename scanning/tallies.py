"""The reports' tallies (scanning.models.ReportTally): the scan events and refused scans counted by local
hour, user, area, product, action and refusal code.

``tally()`` (reports/tasks.py's periodic job) adds what was recorded between ReportTallyMark.until and a
minute ago, in one INSERT ... SELECT, under the mark's row lock, so two workers never count a period twice.
``counted_rows()`` is the same SELECT without the INSERT: a report counts what came after the mark from the
events themselves (an index range of scanning_scan's and scanning_scanreply's created_at).
"""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from scanning.models import ReportTally, ReportTallyMark

# A scan is recorded with the time Python read before its transaction commits: a period is tallied once
# no scan of it can still be committing (as the dashboard's tallies: overview.dashboard.SETTLE).
SETTLE = timedelta(minutes=1)
# A refused scan: its stored answer has this status or above (reports/exceptions.py reads the same).
REFUSED_STATUS = 400

# {user_*} narrow both parts to a user; the bounds are {since} (a parameter or an expression), %(until)s and
# the time zone %(zone)s.
_SELECT = """
SELECT (s.created_at AT TIME ZONE %(zone)s)::date AS day,
       extract(hour FROM s.created_at AT TIME ZONE %(zone)s)::int AS hour,
       s.user_id, coalesce(s.dispatch_area_id, 0) AS area_id,
       coalesce(p.product_id, b.product_id, 0) AS product_id, s.action, '' AS code, count(*) AS n
  FROM scanning_scan s
  LEFT JOIN bags_bag b ON b.id = s.bag_id
  LEFT JOIN bags_bag p ON p.id = s.parent_id
 WHERE s.created_at >= {since} AND s.created_at < %(until)s {user_scan}
 GROUP BY 1, 2, 3, 4, 5, 6
UNION ALL
SELECT (r.created_at AT TIME ZONE %(zone)s)::date, extract(hour FROM r.created_at AT TIME ZONE %(zone)s)::int,
       r.user_id, 0, 0, '{refused}', left(coalesce(r.body->>'code', ''), 40), count(*)
  FROM scanning_scanreply r
 WHERE r.created_at >= {since} AND r.created_at < %(until)s AND r.status >= {status} {user_reply}
 GROUP BY 1, 2, 3, 6, 7
"""


def counted_sql(user_id: int | None, since: str = "%(since)s") -> str:
    """The SELECT of the events from ``since`` (a parameter, or an SQL expression) until %(until)s."""
    return _SELECT.format(
        since=since,
        refused=ReportTally.REFUSED,
        status=REFUSED_STATUS,
        user_scan="AND s.user_id = %(user)s" if user_id is not None else "",
        user_reply="AND r.user_id = %(user)s" if user_id is not None else "",
    )


def sql_params(since: datetime, until: datetime, user_id: int | None = None) -> dict:
    return {"zone": settings.TIME_ZONE, "since": since, "until": until, "user": user_id}


def tallied_until() -> datetime | None:
    return ReportTallyMark.objects.values_list("until", flat=True).first()


def tally(now: datetime | None = None) -> datetime:
    """Counts the events and refusals recorded since the mark and until SETTLE ago into ReportTally; returns the
    new mark. Two workers at once: the second waits on the mark's row and then finds nothing new."""
    until = (now or timezone.now()) - SETTLE
    with transaction.atomic():
        ReportTallyMark.objects.get_or_create(pk=1, defaults={"until": datetime.min.replace(tzinfo=UTC)})
        mark = ReportTallyMark.objects.select_for_update().get(pk=1)
        if mark.until >= until:
            return mark.until
        table = ReportTally._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (day, hour, user_id, area_id, product_id, action, code, n) "
                f"{counted_sql(None)} "
                "ON CONFLICT (day, hour, user_id, area_id, product_id, action, code) "
                f"DO UPDATE SET n = {table}.n + EXCLUDED.n",
                sql_params(mark.until, until),
            )
        mark.until = until
        mark.save(update_fields=["until"])
    return until


def counted_rows(since: datetime, until: datetime, user_id: int | None = None) -> list[tuple]:
    """(day, hour, user_id, area_id, product_id, action, code, n) counted from the events of [since, until)."""
    if since >= until:
        return []
    with connection.cursor() as cursor:
        cursor.execute(counted_sql(user_id), sql_params(since, until, user_id))
        return cursor.fetchall()
