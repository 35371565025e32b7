"""The reports' figures (/reports/) for a range of local days: scans per day and per hour of day, per
dispatcher, per area and per product, from the hourly tallies (scanning/tallies.py) plus the events since
their mark, in one query; bills and return tickets per day from their own (small) tables.

What the figures mean:
- a scan is a recorded scan event of a dispatcher's kind (opening a parent, a link, a move, an undo, an
  unlink, marking complete); imports and deletions are not scans;
- a refusal is a refused scan (its stored answer has a status of 400 or above), by its answer's code; the
  harmless repeat of a child already in that parent is a duplicate, counted apart (reports/exceptions.py
  leaves it out of the refusals too);
- an attempt is a scan, a refusal or a duplicate: the refusal, duplicate and undo rates are of the attempts;
- a working hour is a local hour (day and hour of day) with at least one scan; scans per working hour are a
  dispatcher's scans over those hours.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext

from accounts.models import DispatchArea, User
from bags.models import Product
from bills.models import Bill, BillBag
from bills.weights import KG
from returns.choices import ReturnStatus
from returns.models import ReturnTicket, ReturnTicketBag
from scanning.choices import ScanAction
from scanning.error_codes import ScanRefusal
from scanning.models import ReportTally, ReportTallyMark
from scanning.tallies import counted_sql, sql_params
from traitortrack.forms import local_day_start
from traitortrack.replica import read_connection

SCAN_ACTIONS = [action.value for action in ScanAction if action not in (ScanAction.IMPORT, ScanAction.DELETE)]
DUPLICATE = str(ScanRefusal.ALREADY_IN_THIS_PARENT)

# One pass over the rows for every grouping (GROUPING SETS; GROUPING() says which one a row is); a working hour
# is counted as one integer (hours since 2000): counting distinct (day, hour) rows sorted them, most of the query.
# The mark is read in the same statement as the tallies (one snapshot): read apart, a tally committed in between
# would count its minutes twice, in the tallies and again from the events.
_FIGURES = """
WITH m AS (SELECT greatest(%(start)s, coalesce(max(until), %(start)s)) AS since FROM {mark_table}),
e AS (
  SELECT day, hour, user_id, area_id, product_id, action, code, n FROM {table}
   WHERE day >= %(first)s AND day <= %(last)s {user_tally}
  UNION ALL
  {counted}
)
SELECT GROUPING(day, hour, user_id, area_id, product_id), day, hour, user_id, area_id, product_id, action, code,
       sum(n)::bigint
  FROM e
 GROUP BY GROUPING SETS ((day, action, code), (hour, action, code), (user_id, action, code),
                         (area_id, action, code), (product_id, action, code))
UNION ALL
SELECT -1, NULL, NULL, user_id, NULL, NULL, '', '', count(DISTINCT (day - DATE '2000-01-01') * 24 + hour)
  FROM e WHERE action = ANY(%(scan_actions)s) GROUP BY user_id
"""
# GROUPING()'s bits, day first: a 1 for each column the row is not grouped by.
_GROUPED_BY = {0b01111: "day", 0b10111: "hour", 0b11011: "user", 0b11101: "area", 0b11110: "product", -1: "hours"}


def _rate(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) / whole).quantize(Decimal("0.0001")) if whole else None


@dataclass
class Counts:
    """One row's scans, refusals (by code), duplicates and undos."""

    scans: int = 0
    undos: int = 0
    duplicates: int = 0
    refused: dict[str, int] = field(default_factory=dict)

    @property
    def refusals(self) -> int:
        return sum(self.refused.values())

    @property
    def attempts(self) -> int:
        return self.scans + self.refusals + self.duplicates

    @property
    def refusal_rate(self) -> Decimal | None:
        return _rate(self.refusals, self.attempts)

    @property
    def duplicate_rate(self) -> Decimal | None:
        return _rate(self.duplicates, self.attempts)

    @property
    def undo_rate(self) -> Decimal | None:
        return _rate(self.undos, self.attempts)

    def add(self, action: str, code: str, n: int) -> None:
        if action == ReportTally.REFUSED:
            if code == DUPLICATE:
                self.duplicates += n
            else:
                self.refused[code] = self.refused.get(code, 0) + n
        elif action in SCAN_ACTIONS:
            self.scans += n
            if action == ScanAction.UNDO:
                self.undos += n


@dataclass
class Dispatcher:
    user_id: int
    name: str
    counts: Counts
    working_hours: int

    @property
    def per_working_hour(self) -> Decimal | None:
        if not self.working_hours:
            return None
        return (Decimal(self.counts.scans) / self.working_hours).quantize(Decimal("0.1"))


@dataclass
class BillDay:
    day: date
    bills: int = 0
    parents: int = 0
    children: int = 0
    weight_kg: Decimal = Decimal("0.000")


@dataclass
class ReturnDay:
    day: date
    tickets: int = 0
    committed: int = 0
    parents: int = 0


@dataclass
class Report:
    first: date
    last: date
    days: list[tuple[date, Counts]]
    hours: list[tuple[int, Counts]]
    dispatchers: list[Dispatcher]
    areas: list[tuple[str, Counts]]
    products: list[tuple[str, Counts]]
    total: Counts
    refusal_codes: list[str]
    bills: list[BillDay] | None  # None: not shown (a dispatcher's report)
    returns: list[ReturnDay] | None


def _scan_rows(first: date, last: date, user_id: int | None) -> list[tuple]:
    start, end = local_day_start(first), local_day_start(last + timedelta(days=1))
    params = sql_params(start, end, user_id) | {
        "start": start,
        "first": first,
        "last": last,
        "scan_actions": SCAN_ACTIONS,
    }
    sql = _FIGURES.format(
        table=ReportTally._meta.db_table,
        mark_table=ReportTallyMark._meta.db_table,
        user_tally="AND user_id = %(user)s" if user_id is not None else "",
        counted=counted_sql(user_id, since="(SELECT since FROM m)"),
    )
    with read_connection().cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _bill_days(first: date, last: date) -> list[BillDay]:
    days = {}
    for day, bills in (
        Bill.objects.filter(bill_date__gte=first, bill_date__lte=last)
        .order_by()
        .values_list("bill_date")
        .annotate(n=Count("*"))
    ):
        days[day] = BillDay(day, bills=bills)
    children = Coalesce("frozen_child_count", "parent_bag__child_count")
    weight = ExpressionWrapper(
        children * Coalesce("frozen_child_weight_kg", "parent_bag__product__child_weight_kg"),
        output_field=DecimalField(max_digits=14, decimal_places=3),
    )
    entries = (
        BillBag.objects.current()
        .filter(bill__bill_date__gte=first, bill__bill_date__lte=last)
        .order_by()
        .values_list("bill__bill_date")
        .annotate(parents=Count("*"), children=Sum(children), weight=Sum(weight))
    )
    for day, parents, children_sum, weight_sum in entries:
        row = days.setdefault(day, BillDay(day))
        row.parents, row.children = parents, children_sum or 0
        row.weight_kg = (weight_sum or Decimal(0)).quantize(KG)
    return [days[day] for day in sorted(days)]


def _return_days(first: date, last: date) -> list[ReturnDay]:
    days = {}
    tickets = ReturnTicket.objects.filter(day__gte=first, day__lte=last).order_by()
    for day, status, n in tickets.values_list("day", "status").annotate(n=Count("*")):
        row = days.setdefault(day, ReturnDay(day))
        row.tickets += n
        if status == ReturnStatus.COMMITTED:
            row.committed += n
    entries = ReturnTicketBag.objects.filter(ticket__day__gte=first, ticket__day__lte=last).order_by()
    for day, n in entries.values_list("ticket__day").annotate(n=Count("*")):
        days.setdefault(day, ReturnDay(day)).parents = n
    return [days[day] for day in sorted(days)]


def _named(counted: dict[int, Counts], names: dict[int, str], nameless: str) -> list[tuple[str, Counts]]:
    # Refusals have no area nor product (their key 0): a row is shown for the scans.
    rows = [(names.get(key) or nameless, counts) for key, counts in counted.items() if counts.scans]
    return sorted(rows, key=lambda row: (-row[1].scans, row[0]))


def build(first: date, last: date, *, user: User | None = None) -> Report:
    """The report of the local days ``first`` to ``last``; with ``user``, only that user's figures (and no
    bills or returns, which are no dispatcher's own)."""
    user_id = user.pk if user is not None else None
    groups: dict[str, dict] = defaultdict(lambda: defaultdict(Counts))
    total = Counts()
    hours_worked: dict[int, int] = {}
    for grouping, day, hour, user, area, product, action, code, n in _scan_rows(first, last, user_id):
        kind = _GROUPED_BY[grouping]
        if kind == "hours":
            hours_worked[user] = n
            continue
        key = {"day": day, "hour": hour, "user": user, "area": area, "product": product}[kind]
        groups[kind][key].add(action, code, n)
        if kind == "day":
            total.add(action, code, n)
    every_day = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    days = [(day, groups["day"].get(day, Counts())) for day in every_day]
    hours = [(hour, groups["hour"].get(hour, Counts())) for hour in range(24)]
    names = dict(User.objects.filter(pk__in=list(groups["user"])).values_list("pk", "username"))
    dispatchers = sorted(
        (
            Dispatcher(user_id, names.get(user_id, str(user_id)), counts, hours_worked.get(user_id, 0))
            for user_id, counts in groups["user"].items()
        ),
        key=lambda row: (-row.counts.scans, row.name),
    )
    area_names = dict(DispatchArea.objects.filter(pk__in=list(groups["area"])).values_list("pk", "name"))
    product_names = dict(Product.objects.filter(pk__in=list(groups["product"])).values_list("pk", "name"))
    areas = _named(groups["area"], area_names, gettext("no area"))
    products = _named(groups["product"], product_names, gettext("no product"))
    return Report(
        first,
        last,
        days,
        hours,
        dispatchers,
        areas,
        products,
        total,
        sorted(total.refused),
        None if user is not None else _bill_days(first, last),
        None if user is not None else _return_days(first, last),
    )
