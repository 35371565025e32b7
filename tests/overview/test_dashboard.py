"""The dashboard: exact totals from the counted snapshot plus what came since, scans per hour and today's top
dispatchers, each role's scope, the cache in front (real Redis) with one recomputation per interval and the
generation moved on by a change, and nothing of it in the scan loop.

The floor is laid on a stopped clock (the ``clock`` fixture, tests/clock.py): the windows and tallies are
checked at times the tests choose, the turn of an hour and of a day among them, never at the time of the run.
"""

import threading
import uuid
from datetime import datetime, timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from bags.models import Bag, BagKind, BagTotals, Link
from bills import services as bill_services
from bills.models import Bill
from overview import dashboard
from scanning import services
from scanning.models import Scan, ScanTally
from tests import factories
from tests.bills.data import fill
from tests.clock import LOCAL
from tests.imports.files import link_rows, write_csv

pytestmark = pytest.mark.django_db


def new_id() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def fresh(settings):
    """Every call computes (no cached figures), the bag totals recounted only when asked."""
    settings.DASHBOARD_FRESH_SECONDS = 0
    settings.DASHBOARD_TOTALS_SECONDS = 3600
    cache.clear()


def local(day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=LOCAL)


@pytest.fixture
def floor(request, clock, area, mustard, moong):
    """Area A: a dispatcher who opened SB00001 and scanned 3 children into it; a moong parent with 30 seeded
    children (no scans); a loose child. Area B: a dispatcher with SB00002 holding one child. A bag of no area.
    Scans are append-only: ``@pytest.mark.scanned_before(a=timedelta, b=timedelta)`` makes a dispatcher's
    scans that long before the clock's time (then the clock goes back to it)."""
    other = factories.make_area("Area B")
    a, b = factories.make_user("disp-a", area=area), factories.make_user("disp-b", area=other)
    marker = request.node.get_closest_marker("scanned_before")
    before = marker.kwargs if marker else {}
    now = clock.now
    clock.move_to(now - before.get("a", timedelta()))
    services.open_parent(user=a, raw_code="SB00001", client_scan_id=new_id())
    for code in ("C0000001", "C0000002", "C0000003"):
        services.scan_child(user=a, parent_code="SB00001", raw_code=code, client_scan_id=new_id())
    clock.move_to(now)
    full = factories.make_parent("M444-00001", product_code="moong", dispatch_area=area)
    fill(full, 30, prefix="MC")
    Bag.objects.filter(qr_id__startswith="MC").update(dispatch_area=area)
    factories.make_child("L0000001", dispatch_area=area)
    clock.move_to(now - before.get("b", timedelta()))
    services.open_parent(user=b, raw_code="SB00002", client_scan_id=new_id())
    services.scan_child(user=b, parent_code="SB00002", raw_code="C0000009", client_scan_id=new_id())
    clock.move_to(now)
    factories.make_child("NOAREA01")
    return {"a": a, "b": b, "area": area, "other": other, "biller": factories.make_user("biller", role=Role.BILLER)}


def orm_totals(area=None) -> dict[str, int]:
    """The totals, the slow obvious way: counting the tables."""
    bags = Bag.objects.all() if area is None else Bag.objects.filter(dispatch_area=area)
    children = bags.filter(kind=BagKind.CHILD).count()
    links = Link.objects.all() if area is None else Link.objects.filter(parent__dispatch_area=area)
    linked = links.count()
    return {
        "parents": bags.filter(kind=BagKind.PARENT).count(),
        "children": children,
        "linked": linked,
        "unlinked": max(children - linked, 0),
    }


def totals(user) -> dict[str, int]:
    figures = dashboard.dashboard_stats(user)["totals"]
    return {name: figures[name] for name in ("parents", "children", "linked", "unlinked")}


def test_totals_are_the_tables_counts_for_each_scope(floor, fresh):
    assert totals(floor["biller"]) == orm_totals() == {"parents": 3, "children": 36, "linked": 34, "unlinked": 2}
    assert (
        totals(floor["a"]) == orm_totals(floor["area"]) == {"parents": 2, "children": 34, "linked": 33, "unlinked": 1}
    )
    assert totals(floor["b"]) == orm_totals(floor["other"])


def test_scans_after_the_count_show_without_counting_again(floor, fresh):
    totals(floor["biller"])  # counted now
    counted_at = BagTotals.objects.values_list("counted_at", flat=True).first()

    services.scan_child(user=floor["a"], parent_code="SB00001", raw_code="C0000004", client_scan_id=new_id())
    services.scan_child(user=floor["a"], parent_code="SB00001", raw_code="L0000001", client_scan_id=new_id())
    services.undo_last_scan(user=floor["a"], client_scan_id=new_id())
    services.open_parent(user=floor["b"], raw_code="SB00003", client_scan_id=new_id())

    assert totals(floor["biller"]) == orm_totals() == {"parents": 4, "children": 37, "linked": 35, "unlinked": 2}
    assert totals(floor["a"]) == orm_totals(floor["area"])
    assert totals(floor["b"]) == orm_totals(floor["other"])
    assert set(BagTotals.objects.values_list("counted_at", flat=True)) == {counted_at}


def test_a_deletion_shows_at_the_next_count(floor, fresh, settings, clock):
    totals(floor["biller"])
    Bag.objects.filter(qr_id="L0000001").delete()  # a correction outside the scan loop
    assert totals(floor["biller"])["children"] == 36  # the count is older than the deletion

    settings.DASHBOARD_TOTALS_SECONDS = 0
    clock.shift(seconds=1)  # the count is older than no time at all only once time has moved
    assert totals(floor["biller"]) == orm_totals()


def test_with_no_bags_the_totals_are_zero_and_counted(db, fresh):
    viewer = factories.make_user("viewer", role=Role.BILLER)

    assert totals(viewer) == {"parents": 0, "children": 0, "linked": 0, "unlinked": 0}
    assert dashboard.dashboard_stats(viewer)["totals"]["counted_at"] is not None


def test_the_refresh_skips_while_another_process_counts(floor, fresh):
    other = connection.copy()  # another worker, holding the count's lock
    try:
        with other.cursor() as cursor:
            cursor.execute("BEGIN; SELECT pg_advisory_xact_lock(%s)", [7_262_001])
            assert BagTotals.objects.refresh() is False
            cursor.execute("ROLLBACK")
        assert BagTotals.objects.refresh() is True
    finally:
        other.close()


def test_a_dispatcher_sees_their_area_and_no_bills_billers_everything(floor, fresh):
    factories.make_bill(floor["biller"], bill_number="INV-1")

    mine, everything = dashboard.dashboard_stats(floor["a"]), dashboard.dashboard_stats(floor["biller"])

    assert mine["bills"] is None
    assert everything["bills"] == {"draft": 1, "finalised": 0, "total": 1}
    assert {scan["user"] for scan in mine["recent"]} == {"disp-a"}
    assert {scan["user"] for scan in everything["recent"]} == {"disp-a", "disp-b"}
    assert mine["today"]["scans"] == 4 and everything["today"]["scans"] == 6


@pytest.mark.parametrize(
    ("clock", "yesterday_shown"),
    [(local(20, 10, 17, 30), 2), (local(20, 22, 40), 1), (local(20, 23, 5), 0)],
    ids=["10:17", "22:40", "23:05"],
    indirect=["clock"],
)
# disp-a's scans at the start of this hour (each clock is 17, 40 or 5 minutes past, and a few seconds): in the
# last bar, as the later minutes of the hour are.
@pytest.mark.scanned_before(a=timedelta(minutes=4))
def test_scans_per_local_hour_today_and_top_dispatchers(floor, fresh, clock, yesterday_shown):
    now = clock.now
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    carla = factories.make_user("carla", area=floor["area"])
    for minutes_before_midnight in (30, 90):  # yesterday at 23:30 and 22:30: not today
        Scan.objects.create(
            user=carla,
            action="link",
            bag_qr="OLD00001",
            created_at=midnight - timedelta(minutes=minutes_before_midnight),
            dispatch_area=floor["area"],
        )
    Scan.objects.create(
        user=carla, action="link", bag_qr="OLD00002", created_at=now - timedelta(hours=30), dispatch_area=floor["area"]
    )

    stats = dashboard.dashboard_stats(floor["a"])

    hours = stats["hours"]
    assert len(hours) == 24 and hours[-1]["label"] == f"{now:%H}:00"
    assert hours[-1]["scans"] == 4
    # The 24 hours shown start at the hour after this one, yesterday: at 22:xx the 22:30 is no longer in them.
    assert sum(h["scans"] for h in hours if h["hour"] < midnight.isoformat()) == yesterday_shown
    assert stats["today"]["scans"] == 4
    assert stats["top_dispatchers"] == [{"username": "disp-a", "scans": 4}]


def test_recent_scans_are_the_newest_ten_with_links_to_the_bags(floor, fresh):
    for n in range(12):
        services.scan_child(user=floor["b"], parent_code="SB00002", raw_code=f"D{n:07d}", client_scan_id=new_id())

    recent = dashboard.dashboard_stats(floor["b"])["recent"]

    assert [scan["bag"] for scan in recent] == [f"D{n:07d}" for n in range(11, 1, -1)]
    assert recent[0]["bag_url"] == reverse("tracking:bag", args=["D0000011"])
    assert recent[0]["action_label"] == "Linked child"


def test_the_figures_cost_a_handful_of_queries_counted_or_not(floor, fresh, django_assert_num_queries):
    dashboard.dashboard_stats(floor["biller"])  # counts the totals

    # totals rows, what came since, the counted hours, this hour's scans, top dispatchers' names, latest
    # scans, bills by status
    with django_assert_num_queries(7):
        dashboard.dashboard_stats(floor["biller"])


def test_a_scan_writes_nothing_of_the_dashboard(floor, fresh):
    with CaptureQueriesContext(connection) as queries:
        services.scan_child(user=floor["a"], parent_code="SB00001", raw_code="C0000077", client_scan_id=new_id())

    assert queries.captured_queries
    assert not [q for q in queries.captured_queries if "bagtotals" in q["sql"].lower()]


def test_cached_figures_are_served_without_a_query(floor, settings, redis_cache, django_assert_num_queries):
    settings.DASHBOARD_FRESH_SECONDS = 60
    first = dashboard.dashboard_stats(floor["biller"])

    with django_assert_num_queries(0):
        assert dashboard.dashboard_stats(floor["biller"]) == first


def test_stale_figures_are_recomputed_by_one_request_the_others_get_them_meanwhile(
    floor,
    settings,
    redis_cache,
    django_assert_num_queries,
):
    settings.DASHBOARD_FRESH_SECONDS = 60
    first = dashboard.dashboard_stats(floor["biller"])
    services.scan_child(user=floor["a"], parent_code="SB00001", raw_code="C0000005", client_scan_id=new_id())
    settings.DASHBOARD_FRESH_SECONDS = 0  # now stale
    redis_cache.add("dashboard:v1:all:lock", 1, 10)  # another request is recomputing

    with django_assert_num_queries(0):
        assert dashboard.dashboard_stats(floor["biller"]) == first

    redis_cache.delete("dashboard:v1:all:lock")
    assert dashboard.dashboard_stats(floor["biller"])["today"]["scans"] == first["today"]["scans"] + 1


def test_a_bill_change_moves_the_generation_on(floor, clock, settings, redis_cache, django_capture_on_commit_callbacks):
    settings.DASHBOARD_FRESH_SECONDS = 60
    assert dashboard.dashboard_stats(floor["biller"])["bills"]["draft"] == 0

    with django_capture_on_commit_callbacks(execute=True):
        bill_services.create_bill(
            user=floor["biller"],
            bill_number="INV-42",
            customer="Kota",
            bill_date=clock.now.date(),
            product=factories.product(),
            expected_parents=2,
        )

    assert dashboard.dashboard_stats(floor["biller"])["bills"]["draft"] == 1


def test_after_a_change_one_request_recomputes_the_others_get_the_figures_meanwhile(
    floor, settings, redis_cache, django_assert_num_queries
):
    settings.DASHBOARD_FRESH_SECONDS = 60
    first = dashboard.dashboard_stats(floor["biller"])
    factories.make_bill(floor["biller"], bill_number="INV-88")
    dashboard.stats_changed()
    redis_cache.add("dashboard:v1:all:lock", 1, 10)  # another request is recomputing

    with django_assert_num_queries(0):
        assert dashboard.dashboard_stats(floor["biller"]) == first

    redis_cache.delete("dashboard:v1:all:lock")
    assert dashboard.dashboard_stats(floor["biller"])["bills"]["draft"] == first["bills"]["draft"] + 1


def test_bills_imported_or_deleted_in_the_admin_move_the_generation_on(
    floor, clock, settings, redis_cache, admin_client, tmp_path, django_capture_on_commit_callbacks
):
    settings.DASHBOARD_FRESH_SECONDS = 60
    factories.make_user("importer", role=Role.ADMIN)
    header = ["bill_number", "customer", "date", "expected_parents", "parent"]
    bills = write_csv(tmp_path / "bills.csv", [header, ["INV-77", "Kota", "2026-11-20", "1", "SB00001"]])
    assert dashboard.dashboard_stats(floor["biller"])["bills"]["draft"] == 0

    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_bills", str(bills), "--user", "importer", verbosity=0)
    assert dashboard.dashboard_stats(floor["biller"])["bills"]["draft"] == 1

    clock.shift(seconds=1)  # the cache generation is the time of the change (stats_changed)
    delete = reverse("admin:bills_bill_delete", args=[Bill.objects.get(bill_number="INV-77").pk])
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert dashboard.dashboard_stats(floor["biller"])["bills"]["draft"] == 0


def test_the_page_shows_the_figures_and_the_json_refreshes_them(floor, fresh):
    client = Client()
    client.force_login(floor["a"])

    page = client.get(reverse("dashboard"))
    figures = client.get(reverse("dashboard-stats"))

    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="dashboard-stats" type="application/json"' in html
    assert 'data-stats-url="/api/dashboard"' in html and 'data-refresh-seconds="5"' in html
    assert 'data-stat="totals.parents">2<' in html and "draft bills" not in html
    assert str(floor["area"]) in html and "All areas" not in html
    assert figures.status_code == 200 and figures["Cache-Control"].startswith("max-age=0")
    assert figures.json()["totals"]["children"] == 34


@pytest.mark.parametrize("who", ["a", "biller"])
def test_the_json_has_the_shape_its_openapi_schema_describes(floor, fresh, who):
    client = Client()
    client.force_login(floor[who])
    schema = client.get(reverse("openapi")).json()["components"]["schemas"]["Dashboard"]
    parts = schema["properties"]

    figures = client.get(reverse("dashboard-stats")).json()

    assert set(schema["required"]) <= set(figures) <= set(parts)
    assert set(figures["totals"]) == set(parts["totals"]["properties"])
    if who == "a":
        assert figures["bills"] is None  # a dispatcher's
    else:
        assert set(figures["bills"]) == set(parts["bills"]["properties"])
    assert set(figures["today"]) == set(parts["today"]["properties"])
    for name in ("hours", "top_dispatchers", "recent"):
        assert figures[name], name  # not vacuous: the floor has scans today
        assert all(set(row) == set(parts[name]["items"]["properties"]) for row in figures[name]), name


def test_billers_see_every_area_and_the_bills_admins_also_the_system_page(floor, fresh, admin_client):
    biller = Client()
    biller.force_login(floor["biller"])

    billers, admins = biller.get(reverse("dashboard")).content.decode(), admin_client.get(reverse("dashboard"))

    system = f'href="{reverse("system")}"'
    assert "All areas" in billers and "draft bills" in billers and system not in billers
    assert admins.status_code == 200 and system in admins.content.decode()


def test_the_json_answers_401_without_a_session(db):
    answer = Client().get(reverse("dashboard-stats"))

    assert answer.status_code == 401
    assert answer.json()["code"] == "not_logged_in"


@pytest.mark.parametrize(
    ("clock", "hours_counted", "slots_counted"),
    [(local(20, 10, 17, 30), 23, 3), (local(20, 11, 0, 20), 22, 11), (local(20, 11, 1), 23, 0)],
    # An hour is settled a minute after it ends: at 11:00:20 the 10 o'clock hour is still in slots.
    ids=["10:17:30", "11:00:20", "11:01:00"],
    indirect=["clock"],
)
@pytest.mark.scanned_before(b=timedelta(hours=2))
def test_periods_that_are_over_are_counted_once_and_kept(floor, fresh, clock, hours_counted, slots_counted):
    two_hours_ago = clock.now - timedelta(hours=2)
    first = dashboard.dashboard_stats(floor["biller"])
    assert ScanTally.objects.filter(minutes=60).count() == hours_counted  # the window's hours over and settled
    assert ScanTally.objects.filter(minutes=5).count() == slots_counted  # this hour's (or the last's) settled slots

    # A scan written into a counted period after the fact (only a bulk load does that) is not counted again.
    Scan.objects.create(user=floor["b"], action="link", bag_qr="LATE0001", created_at=two_hours_ago)
    again = dashboard.dashboard_stats(floor["biller"])

    assert ScanTally.objects.filter(minutes=60).count() == hours_counted
    assert again["hours"] == first["hours"]
    label = f"{two_hours_ago:%H}:00"
    assert next(h["scans"] for h in again["hours"] if h["label"] == label) == 2


def test_an_hour_is_summed_from_its_five_minute_slots_when_they_are_all_there(floor, fresh, clock):
    hour = clock.now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    user = floor["a"]
    for i in range(12):
        ScanTally.objects.create(
            start=hour + timedelta(minutes=5 * i), minutes=5, counts=[[floor["area"].pk, user.pk, i]]
        )
    Scan.objects.create(user=user, action="link", bag_qr="NOTREAD1", dispatch_area=floor["area"], created_at=hour)

    stats = dashboard.dashboard_stats(floor["biller"])

    assert next(h["scans"] for h in stats["hours"] if h["label"] == f"{hour:%H}:00") == sum(range(12))
    assert ScanTally.objects.get(start=hour, minutes=60).counts == [[floor["area"].pk, user.pk, 66]]
    assert not ScanTally.objects.filter(minutes=5, start__lt=hour + timedelta(hours=1)).exists()


def test_counted_hours_and_the_current_one_agree_with_the_scans(floor, fresh, clock):
    now = clock.now
    carla = factories.make_user("carla2", area=floor["other"])
    for hours_ago in (1, 1, 3, 7, 7, 7, 23):
        Scan.objects.create(
            user=carla,
            action="link",
            bag_qr="HOUR0001",
            dispatch_area=floor["other"],
            created_at=now - timedelta(hours=hours_ago),
        )

    for user in (floor["b"], floor["biller"]):
        stats = dashboard.dashboard_stats(user)
        restricted = user.is_dispatcher
        expected = []
        for hour in stats["hours"]:
            start = datetime.fromisoformat(hour["hour"])
            scans = Scan.objects.filter(created_at__gte=start, created_at__lt=start + timedelta(hours=1))
            if restricted:
                scans = scans.filter(dispatch_area=user.dispatch_area)
            expected.append(scans.count())
        assert [hour["scans"] for hour in stats["hours"]] == expected
        assert sum(expected) > 0


# On the running clocks: the recount's thread has a connection of its own, which the stopped database clock
# (set in the test's transaction) does not reach, and nothing here is about a window of time.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_outside_a_transaction_the_recount_runs_in_the_background(settings):
    settings.DASHBOARD_FRESH_SECONDS = 0
    settings.DASHBOARD_TOTALS_SECONDS = 3600
    viewer = factories.make_user("viewer-bg", role=Role.BILLER)
    factories.make_parent("SB00001")
    loose = factories.make_child("L0000001")
    assert totals(viewer)["children"] == 1  # the first count: waited for
    loose.delete()  # a correction the scan events do not tell about
    settings.DASHBOARD_TOTALS_SECONDS = 0  # the count is stale

    assert totals(viewer)["children"] == 1  # answered at once from the old count; a recount has started
    for thread in [t for t in threading.enumerate() if t.name == "bag-totals"]:
        thread.join(timeout=10)

    settings.DASHBOARD_TOTALS_SECONDS = 3600
    assert totals(viewer) == orm_totals() == {"parents": 1, "children": 0, "linked": 0, "unlinked": 0}


def test_with_redis_down_the_dashboard_computes_its_figures(floor, dead_redis_cache, caplog):
    client = Client()
    client.force_login(floor["biller"])

    page = client.get(reverse("dashboard"))
    figures = client.get(reverse("dashboard-stats"))

    assert page.status_code == 200 and figures.status_code == 200
    assert figures.json()["totals"] == {**orm_totals(), "counted_at": figures.json()["totals"]["counted_at"]}
    assert any(record.name == "traitortrack.cache" for record in caplog.records)


def test_a_bulk_import_shows_in_the_totals_but_not_as_peoples_scans(floor, fresh, tmp_path):
    before = dashboard.dashboard_stats(floor["biller"])
    factories.make_user("importer", role=Role.ADMIN)
    rows = link_rows(2, 3, parent_start=70, child_prefix="IM")
    call_command("import_bags", str(write_csv(tmp_path / "links.csv", rows)), "--user", "importer", verbosity=0)

    after = dashboard.dashboard_stats(floor["biller"])

    assert Scan.objects.filter(action="import").count() == 6
    assert totals(floor["biller"]) == orm_totals()
    assert after["totals"]["linked"] == before["totals"]["linked"] + 6
    assert after["today"]["scans"] == before["today"]["scans"]
    assert "importer" not in {row["username"] for row in after["top_dispatchers"]}
