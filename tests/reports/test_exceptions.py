"""The exceptions list's rules (reports/exceptions.py), each with a case that trips it and one at its
boundary that does not, on a frozen clock (tests/clock.py: 10:17:30 local time)."""

from datetime import UTC, datetime, time, timedelta
from itertools import count as serial

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from bags.models import Bag
from bills.models import Bill
from reports import exceptions
from reports.models import ExceptionThresholds
from returns.models import ReturnTicket
from scanning.choices import ScanAction
from scanning.error_codes import ScanRefusal
from scanning.models import Scan, ScanReply
from tests import factories
from tests.bills.data import fill
from tests.clock import LOCAL

pytestmark = pytest.mark.django_db

_reply_ids = serial(1)


def codes(key: str) -> list[str]:
    (rule,) = exceptions.open_exceptions(only=key)
    return [row.code for row in rule.rows]


def opened_at(bag: Bag, when: datetime) -> Bag:
    Bag.objects.filter(pk=bag.pk).update(created_at=when)
    return bag


def midnight(clock) -> datetime:
    return datetime.combine(clock.now.date(), time.min, tzinfo=LOCAL)


# 1. Parents not full at the end of their day


def test_a_parent_from_yesterday_that_is_not_full_is_listed(clock):
    parent = opened_at(factories.make_parent("SB10001"), midnight(clock) - timedelta(seconds=1))
    fill(parent, 5)
    assert codes("parents_not_full") == ["SB10001"]


def test_the_day_ends_at_local_midnight_not_utc(clock):
    # 01:30 today in Asia/Kolkata is still yesterday in UTC.
    opened_at(factories.make_parent("SB10007"), datetime(2026, 11, 19, 20, 0, tzinfo=UTC))
    assert codes("parents_not_full") == []


def test_a_parent_opened_at_midnight_today_is_not_yet_at_its_days_end(clock):
    opened_at(factories.make_parent("SB10002"), midnight(clock))
    assert codes("parents_not_full") == []


def test_yesterdays_full_complete_or_billed_parents_are_not_listed(clock, biller):
    yesterday = midnight(clock) - timedelta(hours=3)
    full = opened_at(factories.make_parent("SB10003"), yesterday)
    fill(full, 30)
    opened_at(factories.make_parent("SB10004", completed_at=yesterday), yesterday)
    billed = opened_at(factories.make_parent("SB10005"), yesterday)
    factories.put_on_bill(factories.make_bill(biller), billed)
    assert codes("parents_not_full") == []


def test_a_lowered_capacity_makes_a_parent_full_everywhere_at_once(clock, mustard):
    parent = opened_at(factories.make_parent("SB10006"), midnight(clock) - timedelta(hours=1))
    fill(parent, 20)
    assert codes("parents_not_full") == ["SB10006"]
    mustard.capacity = 20
    mustard.save()
    assert codes("parents_not_full") == []


# 2. Parents open for more than N hours


def test_a_parent_open_exactly_n_hours_is_not_listed_a_second_more_is(clock):
    hours = ExceptionThresholds.current().open_parent_hours
    opened_at(factories.make_parent("SB20001"), clock.now - timedelta(hours=hours))
    opened_at(factories.make_parent("SB20002"), clock.now - timedelta(hours=hours, seconds=1))
    assert codes("parents_open") == ["SB20002"]
    assert "SB20002" not in codes("parents_not_full")  # opened today: one list, not two


def test_a_full_parent_is_not_open(clock):
    parent = opened_at(factories.make_parent("SB20003"), clock.now - timedelta(hours=8))
    fill(parent, 30)
    assert codes("parents_open") == []


# 3. Children scanned but in no parent


def scan_event(user, action, bag, *, parent=None, when=None) -> Scan:
    return Scan.objects.create(
        user=user,
        action=action,
        bag=bag,
        bag_qr=bag.qr_id if bag else "X",
        parent=parent,
        parent_qr=parent.qr_id if parent else "",
        created_at=when or timezone.now(),
    )


def test_a_child_taken_out_and_put_nowhere_is_listed_with_its_last_parent(clock):
    dispatcher = factories.make_user()
    parent = factories.make_parent("SB30001")
    child = factories.make_child("LOOSE0001")
    scan_event(dispatcher, ScanAction.LINK, child, parent=parent, when=clock.now - timedelta(minutes=5))
    scan_event(dispatcher, ScanAction.UNDO, child, parent=parent)
    (rule,) = exceptions.open_exceptions(only="children_loose")
    assert [(row.code, row.since, row.url) for row in rule.rows] == [
        ("LOOSE0001", clock.now, reverse("tracking:bag", args=["LOOSE0001"]))
    ]
    assert "SB30001" in rule.rows[0].detail


def test_a_child_taken_out_and_scanned_into_another_parent_is_not_listed(clock):
    dispatcher = factories.make_user()
    child = factories.make_child("LOOSE0002")
    scan_event(dispatcher, ScanAction.UNLINK, child, parent=factories.make_parent("SB30002"))
    factories.link(factories.make_parent("SB30003"), child)
    factories.make_child("NEVERSCANNED")  # in no parent, but never scanned either: an unused label
    assert codes("children_loose") == []


# 4. Full parents on no bill after N hours


def test_a_full_parent_on_no_bill_for_exactly_n_hours_is_not_listed_a_second_more_is(clock, biller):
    hours = ExceptionThresholds.current().unbilled_parent_hours
    for code, age in (("SB40001", timedelta(hours=hours)), ("SB40002", timedelta(hours=hours, seconds=1))):
        fill(opened_at(factories.make_parent(code), clock.now - age), 30)
    billed = opened_at(factories.make_parent("SB40003"), clock.now - timedelta(days=5))
    fill(billed, 30)
    factories.put_on_bill(factories.make_bill(biller), billed)
    opened_at(factories.make_parent("SB40004", completed_at=clock.now), clock.now - timedelta(days=5))
    assert codes("parents_unbilled") == ["SB40002", "SB40004"]


def test_a_parent_returned_from_its_bill_is_on_no_bill_again(clock, biller):
    parent = opened_at(factories.make_parent("SB40005"), clock.now - timedelta(days=3))
    fill(parent, 30)
    entry = factories.put_on_bill(bill := factories.make_bill(biller), parent)
    factories.finalise(bill)
    type(entry).objects.filter(pk=entry.pk).update(returned_at=clock.now, returned_on="RTN-20261120-0001")
    assert codes("parents_unbilled") == ["SB40005"]


# 5. Draft bills older than N days


def test_a_draft_bill_exactly_n_days_old_is_not_listed_a_second_older_is(clock, biller):
    days = ExceptionThresholds.current().draft_bill_days
    for number, age in (("TT-1", timedelta(days=days)), ("TT-2", timedelta(days=days, seconds=1))):
        Bill.objects.filter(pk=factories.make_bill(biller, bill_number=number).pk).update(created_at=clock.now - age)
    old_but_final = factories.finalise(factories.make_bill(biller, bill_number="TT-3"))
    Bill.objects.filter(pk=old_but_final.pk).update(created_at=clock.now - timedelta(days=30))
    (rule,) = exceptions.open_exceptions(only="draft_bills")
    assert [row.code for row in rule.rows] == ["TT-2"]
    assert rule.rows[0].url == reverse("bills:detail", args=[Bill.objects.get(bill_number="TT-2").pk])


# 6. Draft return tickets older than N hours


def test_a_draft_return_exactly_n_hours_old_is_not_listed_a_second_older_is(clock, biller):
    hours = ExceptionThresholds.current().draft_return_hours
    tickets = []
    for age in (timedelta(hours=hours), timedelta(hours=hours, seconds=1)):
        ticket = factories.make_return_ticket(biller)
        ReturnTicket.objects.filter(pk=ticket.pk).update(created_at=clock.now - age)
        tickets.append(ticket)
    (rule,) = exceptions.open_exceptions(only="draft_returns")
    assert [row.code for row in rule.rows] == [tickets[1].number]
    assert rule.rows[0].url == reverse("returns:detail", args=[tickets[1].pk])


# 7. A dispatcher refused far more often than usual


def scans(user, count: int, *, day_offset: int = 0, refused: int = 0, duplicates: int = 0, clock) -> None:
    """``count`` scan events and ``refused`` refusals (+ harmless ``duplicates``) at 09:00 on a day."""
    when = datetime.combine(clock.now.date() + timedelta(days=day_offset), time(9), tzinfo=LOCAL)
    Scan.objects.bulk_create(
        Scan(user=user, action=ScanAction.LINK, bag_qr="CHILD0001", created_at=when) for _ in range(count)
    )
    ScanReply.objects.bulk_create(
        [
            ScanReply(
                client_scan_id=f"refused-{next(_reply_ids):08d}",
                user=user,
                status=409,
                body={"code": "parent_full"},
                created_at=when,
            )
            for n in range(refused)
        ]
        + [
            ScanReply(
                client_scan_id=f"duplicate-{next(_reply_ids):08d}",
                user=user,
                status=409,
                body={"code": str(ScanRefusal.ALREADY_IN_THIS_PARENT)},
                created_at=when,
            )
            for n in range(duplicates)
        ]
    )


def test_a_dispatcher_refused_far_above_their_usual_rate_is_listed(clock):
    ravi = factories.make_user("ravi")
    scans(ravi, 490, day_offset=-3, refused=10, clock=clock)  # usually 2 %
    scans(ravi, 30, refused=10, clock=clock)  # today 25 %: above 3 x 2 %
    (rule,) = exceptions.open_exceptions(only="refusals")
    assert [row.code for row in rule.rows] == ["ravi"]
    assert "10 refused of 40 scans today (25%)" in rule.rows[0].detail


def test_a_dispatcher_refused_as_often_as_usual_is_not_listed(clock):
    asha = factories.make_user("asha")
    scans(asha, 30, day_offset=-1, refused=10, clock=clock)  # usually 25 %
    scans(asha, 30, refused=10, clock=clock)
    assert codes("refusals") == []


def test_a_rate_exactly_k_times_the_usual_is_not_listed(clock):
    meena = factories.make_user("meena")
    scans(meena, 90, day_offset=-2, refused=10, clock=clock)  # usually 10 %
    scans(meena, 70, refused=30, clock=clock)  # today 30 % = 3 x 10 %
    assert codes("refusals") == []
    scans(meena, 0, refused=1, clock=clock)  # 31 of 101
    assert codes("refusals") == ["meena"]


def test_one_refusal_out_of_two_scans_does_not_trip_it(clock):
    scans(factories.make_user("new"), 1, refused=1, clock=clock)
    assert codes("refusals") == []


def test_duplicates_and_billers_refusals_do_not_count(clock):
    scans(factories.make_user("sita"), 50, duplicates=40, clock=clock)  # harmless duplicates
    scans(factories.make_user("counter", role=Role.BILLER), 30, refused=30, clock=clock)
    assert codes("refusals") == []


def test_the_usual_rate_is_read_over_the_14_days_before_today(clock):
    for name, day in (("fifteen", -15), ("fourteen", -14)):
        user = factories.make_user(name)
        scans(user, 10, day_offset=day, refused=100, clock=clock)  # a bad day, inside the 14 or not
        scans(user, 30, refused=10, clock=clock)
    assert codes("refusals") == ["fifteen"]  # its bad day is too long ago to be "usual"


# The thresholds


def test_the_thresholds_are_one_row_kept_in_sane_ranges(db):
    assert ExceptionThresholds.objects.count() == 1  # the data migration's
    for field, value in (("open_parent_hours", 0), ("draft_bill_days", 1000), ("refusal_factor", "0.5")):
        with pytest.raises(IntegrityError), transaction.atomic():
            ExceptionThresholds.objects.filter(pk=1).update(**{field: value})
    with pytest.raises(IntegrityError), transaction.atomic():
        ExceptionThresholds.objects.create(pk=2)


def test_each_rule_counts_all_and_shows_the_first_few(clock, monkeypatch):
    monkeypatch.setattr(exceptions, "SHOWN", 2)
    for n in range(5):
        opened_at(factories.make_parent(f"SB5000{n}"), midnight(clock) - timedelta(hours=n + 1))
    (rule,) = exceptions.open_exceptions(only="parents_not_full")
    assert (len(rule.rows), rule.total, rule.more) == (2, 5, 3)
    assert exceptions.count_open_exceptions() == 5


def test_the_list_costs_the_same_queries_for_many_rows_as_for_one(clock, biller):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            exceptions.open_exceptions()
        return len(captured)

    def one_of_each(n: int) -> None:
        opened_at(factories.make_parent(f"SB6{n:04d}"), midnight(clock) - timedelta(hours=1))
        factories.make_return_ticket(biller)
        child = factories.make_child(f"LOOSE6{n:04d}")
        scan_event(biller, ScanAction.UNLINK, child)

    one_of_each(1)
    few = queries()
    for n in range(2, 12):
        one_of_each(n)
    assert queries() == few


def _plan(queryset) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # tiny tables: ask whether the index can serve at all
        plan = queryset.explain()
        cursor.execute("SET LOCAL enable_seqscan = on")
    return plan


def test_the_rules_queries_match_their_partial_indexes(clock):
    # A predicate that drifts from the index's (reports/migrations/0003_*) would leave it unused, silently.
    at = exceptions._moment()
    assert "scan_child_taken_out_idx" in _plan(exceptions._children_in_no_parent(at))
    usual = exceptions._refusals(clock.now - timedelta(days=14), clock.now).filter(user_id=1)
    assert "scanreply_refused_idx" in _plan(usual.values("user_id"))
