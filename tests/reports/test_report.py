"""The report (/reports/): its figures against the raw events counted in Python, across days and the clock's
turns of a zone with daylight saving; who sees what; the CSV and workbook; the ranges it refuses."""

import csv
import io
import random
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from reports import figures
from reports.tables import percent, tables
from reports.tasks import tally_reports
from scanning.choices import ScanAction
from scanning.error_codes import ScanRefusal
from scanning.models import ReportTally, Scan, ScanReply
from scanning.tallies import SETTLE, tallied_until, tally
from tests import factories
from tests.clock import stop_clocks

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
PAGE = "/reports/"
ACTIONS = [
    ScanAction.OPEN_PARENT,
    ScanAction.LINK,
    ScanAction.LINK,
    ScanAction.LINK,
    ScanAction.UNDO,
    ScanAction.MOVE,
    ScanAction.COMPLETE,
    ScanAction.IMPORT,  # no scan
]
CODES = [ScanRefusal.PARENT_FULL, ScanRefusal.UNKNOWN_BAG, ScanRefusal.ALREADY_IN_THIS_PARENT]
# Both turns of London's clock in 2026: forward on 29 March, back on 25 October (01:00 UTC each).
SPANS = [(date(2026, 3, 27), date(2026, 3, 31)), (date(2026, 10, 23), date(2026, 10, 27))]


@pytest.fixture
def london(settings):
    settings.TIME_ZONE = "Europe/London"
    with timezone.override(LONDON):
        yield from stop_clocks(datetime(2026, 11, 2, 12, 0, tzinfo=LONDON))


class World:
    """Two dispatchers in two areas, a biller, parents of both products, and events at random instants."""

    def __init__(self, seed: int = 19) -> None:
        rng = random.Random(seed)
        self.areas = [factories.make_area(), factories.make_area()]
        self.dispatchers = [factories.make_user(role=Role.DISPATCHER, area=area) for area in self.areas]
        self.biller = factories.make_user(role=Role.BILLER)
        self.parents = [factories.make_parent(product_code=code) for code in ("mustard", "moong", "mustard")]
        child = factories.make_child()
        self.events, self.refusals = [], []
        serial = 0
        for first, last in SPANS:
            start = datetime.combine(first, datetime.min.time(), LONDON).astimezone(ZoneInfo("UTC"))
            seconds = int((datetime.combine(last, datetime.min.time(), LONDON) - start).total_seconds())
            for _ in range(400):
                serial += 1
                user = rng.choice(self.dispatchers)
                at = start + timedelta(seconds=rng.randrange(seconds))
                if rng.random() < 0.2:
                    status = 409 if rng.random() < 0.5 else 400
                    code = str(rng.choice(CODES))
                    answer = {"client_scan_id": f"r{serial}", "status": status, "body": {"code": code}}
                    self.refusals.append(ScanReply(user=user, created_at=at, **answer))
                    continue
                parent = rng.choice(self.parents)
                self.events.append(
                    Scan(
                        user=user,
                        action=rng.choice(ACTIONS),
                        bag=child,
                        bag_qr=child.qr_id,
                        parent=parent,
                        parent_qr=parent.qr_id,
                        dispatch_area=user.dispatch_area,
                        created_at=at,
                    )
                )
                # A kept success answer is no refusal.
                self.refusals.append(
                    ScanReply(client_scan_id=f"s{serial}", user=user, status=200, body={"ok": True}, created_at=at)
                )
        Scan.objects.bulk_create(self.events)
        ScanReply.objects.bulk_create(self.refusals)

    def expected(self, first: date, last: date, user=None) -> dict:
        """The figures, counted from the events in Python with the zone's local times."""
        day = lambda at: timezone.localtime(at).date()  # noqa: E731
        events = [e for e in self.events if first <= day(e.created_at) <= last and user in (None, e.user)]
        scans = [e for e in events if e.action not in (ScanAction.IMPORT, ScanAction.DELETE)]
        answers = [
            r
            for r in self.refusals
            if r.status >= 400 and first <= day(r.created_at) <= last and user in (None, r.user)
        ]
        by_user = defaultdict(lambda: {"scans": 0, "undos": 0, "dups": 0, "refused": Counter(), "hours": set()})
        for e in scans:
            row = by_user[e.user.username]
            row["scans"] += 1
            row["undos"] += e.action == ScanAction.UNDO
            local = timezone.localtime(e.created_at)
            row["hours"].add((local.date(), local.hour))
        for r in answers:
            row = by_user[r.user.username]
            if r.body["code"] == str(ScanRefusal.ALREADY_IN_THIS_PARENT):
                row["dups"] += 1
            else:
                row["refused"][r.body["code"]] += 1
        return {
            "days": Counter(day(e.created_at) for e in scans),
            "hours": Counter(timezone.localtime(e.created_at).hour for e in scans),
            "users": by_user,
            "areas": Counter(e.dispatch_area.name for e in scans),
            "products": Counter(e.parent.product.name for e in scans),
        }


def assert_equal(report: figures.Report, expected: dict) -> None:
    assert {day: c.scans for day, c in report.days if c.scans} == dict(expected["days"])
    assert {hour: c.scans for hour, c in report.hours if c.scans} == dict(expected["hours"])
    assert {name: c.scans for name, c in report.areas} == dict(expected["areas"])
    assert {name: c.scans for name, c in report.products} == dict(expected["products"])
    got = {
        row.name: {
            "scans": row.counts.scans,
            "undos": row.counts.undos,
            "dups": row.counts.duplicates,
            "refused": Counter(row.counts.refused),
            "hours": row.working_hours,
        }
        for row in report.dispatchers
    }
    want = {name: row | {"hours": len(row["hours"])} for name, row in expected["users"].items()}
    assert got == want
    for row in report.dispatchers:
        attempts = row.counts.scans + row.counts.refusals + row.counts.duplicates
        assert row.counts.refusal_rate == (Decimal(row.counts.refusals) / attempts).quantize(Decimal("0.0001"))
        assert row.per_working_hour == (Decimal(row.counts.scans) / row.working_hours).quantize(Decimal("0.1"))


@pytest.mark.parametrize("span", SPANS, ids=["clock-forward", "clock-back"])
def test_figures_equal_the_events_counted_across_a_daylight_saving_turn(london, span):
    world = World()
    first, last = span
    report = figures.build(first, last)
    assert_equal(report, world.expected(first, last))
    # The day the clock went forward has 23 hours, the day it went back 25: each is one local day.
    assert len(report.days) == (last - first).days + 1
    assert report.total.scans == sum(world.expected(first, last)["days"].values())


def test_tallied_figures_equal_the_counted_ones_wherever_the_mark_is(london):
    world = World()
    first, last = date(2026, 3, 26), date(2026, 10, 28)
    expected = world.expected(first, last)
    # The mark in the middle of the day the clock went back: tallies before it, events after it.
    tally(datetime(2026, 10, 25, 1, 30, tzinfo=LONDON))
    assert ReportTally.objects.exists()
    assert_equal(figures.build(first, last), expected)
    tally(datetime(2026, 11, 1, tzinfo=LONDON))
    tally(datetime(2026, 11, 1, tzinfo=LONDON))  # nothing new: nothing counted twice
    assert_equal(figures.build(first, last), expected)
    assert_equal(figures.build(*SPANS[1]), world.expected(*SPANS[1]))


def test_a_dispatcher_sees_only_their_own_figures(london):
    world = World()
    first, last = SPANS[0]
    mine = world.dispatchers[0]
    assert_equal(figures.build(first, last, user=mine), world.expected(first, last, user=mine))
    client = Client()
    client.force_login(mine)
    response = client.get(PAGE, {"date_from": first, "date_to": last})
    assert response.status_code == 200
    dispatchers = {table.key: table for table in response.context["tables"]}["dispatchers"]
    assert [row[0] for row in dispatchers.rows] == [mine.username]
    assert "bills" not in {table.key for table in response.context["tables"]}
    assert world.dispatchers[1].username not in response.content.decode()
    # A biller sees both.
    client.force_login(world.biller)
    response = client.get(PAGE, {"date_from": first, "date_to": last})
    dispatchers = {table.key: table for table in response.context["tables"]}["dispatchers"]
    assert sorted(row[0] for row in dispatchers.rows) == sorted(user.username for user in world.dispatchers)


def test_bills_per_day_with_parents_children_and_weights(london):
    biller = factories.make_user(role=Role.BILLER)
    mustard = factories.product("mustard")
    parents = [factories.make_parent() for _ in range(3)]
    for parent, children in zip(parents, (3, 1, 2), strict=True):
        for _ in range(children):
            factories.link(parent, factories.make_child())
    first = factories.make_bill(biller, bill_date=date(2026, 10, 24))
    factories.put_on_bill(first, parents[0])
    factories.put_on_bill(first, parents[1])
    factories.make_bill(biller, bill_date=date(2026, 10, 24))  # no parents yet
    second = factories.make_bill(biller, bill_date=date(2026, 10, 26))
    factories.put_on_bill(second, parents[2])
    factories.finalise(second)
    factories.make_bill(biller, bill_date=date(2026, 10, 29))  # out of the range
    bills = figures.build(*SPANS[1]).bills
    weight = mustard.child_weight_kg
    assert [(row.day, row.bills, row.parents, row.children, row.weight_kg) for row in bills] == [
        (date(2026, 10, 24), 2, 2, 4, 4 * weight),
        (date(2026, 10, 26), 1, 1, 2, 2 * weight),
    ]


def test_the_page_shows_the_last_seven_days_by_default(london):
    client = Client()
    client.force_login(factories.make_user(role=Role.BILLER))
    response = client.get(PAGE)
    assert response.status_code == 200
    report = response.context["report"]
    assert (report.first, report.last) == (date(2026, 10, 27), date(2026, 11, 2))
    assert 'id="report-days-chart"' in response.content.decode()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"date_from": "2026-03-10", "date_to": "2026-03-01"}, "The first day is after the last."),
        ({"date_from": "2025-01-01", "date_to": "2026-03-01"}, "Pick at most 366 days."),
        ({"date_from": "2026-02-30"}, "Enter a valid date."),
        ({"date_to": "1899-01-01"}, "Pick a date between"),
        ({"date_from": "x" * 5000}, "Enter a valid date."),
    ],
)
@pytest.mark.parametrize("path", [PAGE, "/reports/report.csv", "/reports/report.xlsx"])
def test_a_bad_range_is_a_400_with_its_message(london, query, message, path):
    client = Client()
    client.force_login(factories.make_user(role=Role.BILLER))
    response = client.get(path, query)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_csv_and_workbook_hold_the_page_figures(london):
    world = World()
    factories.make_bill(world.biller, bill_date=date(2026, 3, 28))
    client = Client()
    client.force_login(world.biller)
    query = {"date_from": SPANS[0][0], "date_to": SPANS[0][1]}
    shown = client.get(PAGE, query).context["tables"]
    assert shown == tables(figures.build(*SPANS[0]))

    def text(value):
        return "" if value is None else str(value)

    content = b"".join(client.get("/reports/report.csv", query).streaming_content).decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(content)))
    expected_lines = []
    for number, table in enumerate(shown):
        expected_lines += ([[]] if number else []) + [[table.title], table.header]
        expected_lines += [[text(value) for value in row] for row in table.rows]
    assert lines == expected_lines

    response = client.get("/reports/report.xlsx", query)
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert workbook.sheetnames == [table.title for table in shown]
    for table in shown:
        values = list(workbook[table.title].iter_rows(values_only=True))
        assert list(values[0]) == table.header
        for got, row in zip(values[1:], table.rows, strict=True):
            want = [v if not isinstance(v, date) else datetime.combine(v, datetime.min.time()) for v in row]
            assert [Decimal(str(v)) if isinstance(v, float) else v for v in got] == want


def test_rates_are_percent_of_the_attempts():
    assert percent(Decimal("0.1234")) == Decimal("12.3")
    assert percent(None) is None


def test_the_periodic_job_counts_up_to_a_minute_ago_once(london):
    world = World()
    tally_reports(timestamp=0)
    tally_reports(timestamp=0)
    assert tallied_until() == timezone.now() - SETTLE
    refused = [answer for answer in world.refusals if answer.status >= 400]
    assert sum(ReportTally.objects.values_list("n", flat=True)) == len(world.events) + len(refused)
