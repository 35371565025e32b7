"""The bag management list (/bags/): filters, sorts and keyset pages answer as the plain ORM does, each sort is
read in an index's order (EXPLAIN), a dispatcher sees their own area, nothing counts the bags, and the filtered
list exports. The yard is laid on a stopped clock (tests/clock.py)."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from audit.models import AuditLog
from bags.models import Bag, BagKind
from bags.selectors import SearchTooBroad
from bills.models import BillBag
from scanning.models import Scan, ScanAction
from tests import factories
from tests.bills.data import fill
from tracking import bag_list
from tracking.bag_list import NO, YES, BagFilter, list_bags, matching_bags

pytestmark = pytest.mark.django_db
LIST = reverse("tracking:bag-list")
SORTS = list(bag_list.SORT_LABELS)


@pytest.fixture
def yard(clock, area, mustard, moong):
    """Area A: SB00001 (full, 30 children F1...), SB00002 holding C100001/C100002 and on a draft bill,
    SB00003 (empty; returned from a finalised bill), M444-00001 (moong, empty), a loose C100003, older bags
    a day and a week back. Area B: SB00004 and C100004. ``scanner`` scanned C100001 into SB00002 and opened
    SB00004."""
    other = factories.make_area("Area B")
    biller = factories.make_user("biller-yard", role=Role.BILLER)
    scanner = factories.make_user("scanner", area=area)
    full = factories.make_parent("SB00001", dispatch_area=area)
    fill(full, 30, prefix="F1")
    holding = factories.make_parent("SB00002", dispatch_area=area)
    returned = factories.make_parent("SB00003", dispatch_area=area)
    factories.make_parent("M444-00001", product_code="moong", dispatch_area=area)
    for code in ("C100001", "C100002"):
        factories.link(holding, factories.make_child(code, dispatch_area=area))
    factories.make_child("C100003", dispatch_area=area)
    far = factories.make_parent("SB00004", dispatch_area=other)
    factories.make_child("C100004", dispatch_area=other)
    Bag.objects.filter(qr_id__in=["SB00004", "C100003"]).update(created_at=timezone.now() - timedelta(days=1))
    Bag.objects.filter(qr_id="M444-00001").update(created_at=timezone.now() - timedelta(days=7))
    factories.put_on_bill(factories.make_bill(biller, bill_number="DRAFT-1"), holding)
    BillBag.objects.create(
        bill=factories.make_bill(biller, bill_number="DONE-1"),
        parent_bag=returned,
        frozen_child_count=0,
        frozen_capacity=30,
        frozen_child_weight_kg=1,
        frozen_child_codes=[],
        returned_at=timezone.now(),
        returned_on="RTN-20261201-0001",
    )
    child = Bag.objects.get(qr_id="C100001")
    Scan.objects.create(user=scanner, action=ScanAction.LINK, bag=child, bag_qr=child.qr_id, parent=holding)
    Scan.objects.create(user=scanner, action=ScanAction.OPEN_PARENT, bag=far, bag_qr=far.qr_id)
    return {"area": area, "other": other, "biller": biller, "scanner": scanner, "dispatcher": scanner}


def codes(rows) -> list[str]:
    return [row["qr_id"] for row in rows]


def every_page(user, filters: BagFilter, sort: str, size: int = 4) -> list[str]:
    """Every page of the list, one after another, as codes."""
    seen, after = [], None
    while True:
        page = list_bags(user, filters, sort=sort, after=after, size=size)
        seen += codes(page.rows)
        if page.next_after is None:
            return seen
        after = page.next_after


def orm_order(user, filters: BagFilter, sort: str) -> list[str]:
    """The plain answer: the ORM's bags, sorted in Python as the sort says (codes by their bytes, the index's)."""
    rows = list(matching_bags(user, filters).values("pk", "qr_id", "kind", "child_count", "created_at"))
    if sort in (bag_list.MOST_CHILDREN, bag_list.FEWEST_CHILDREN):
        rows = [row for row in rows if row["kind"] == BagKind.PARENT]
    key = {
        bag_list.CODE: lambda row: row["qr_id"].encode(),
        bag_list.CODE_DESC: lambda row: row["qr_id"].encode(),
        bag_list.NEWEST: lambda row: (row["created_at"], row["pk"]),
        bag_list.OLDEST: lambda row: (row["created_at"], row["pk"]),
        bag_list.MOST_CHILDREN: lambda row: (row["child_count"], row["pk"]),
        bag_list.FEWEST_CHILDREN: lambda row: (row["child_count"], row["pk"]),
    }[sort]
    descending = sort in (bag_list.CODE_DESC, bag_list.NEWEST, bag_list.MOST_CHILDREN)
    return codes(sorted(rows, key=key, reverse=descending))


FILTERS = [
    {},
    {"kind": BagKind.PARENT},
    {"kind": BagKind.CHILD},
    {"prefix": "SB"},
    {"prefix": "C1"},
    {"product": "moong"},
    {"area": "other"},
    {"holds": YES},
    {"holds": NO},
    {"holds": NO, "on_bill": NO},
    {"in_parent": YES},
    {"in_parent": NO},
    {"in_parent": NO, "kind": BagKind.CHILD},
    {"on_bill": YES},
    {"on_bill": NO},
    {"on_bill": NO, "kind": BagKind.CHILD},
    {"returned": YES},
    {"returned": NO, "kind": BagKind.PARENT},
    {"scanned_by": "scanner"},
    {"scanned_by": "scanner", "kind": BagKind.CHILD},
    {"date_from": "yesterday", "date_to": "yesterday"},
    {"date_from": "today"},
    {"kind": BagKind.CHILD, "product": "mustard"},  # contradicts itself: nothing
]


def make_filter(yard, values: dict) -> BagFilter:
    values = dict(values)
    if "product" in values:
        values["product"] = factories.product(values["product"])
    if values.get("area") == "other":
        values["area"] = yard["other"]
    if "scanned_by" in values:
        values["scanned_by"] = yard["scanner"]
    days = {"today": timezone.localdate(), "yesterday": timezone.localdate() - timedelta(days=1)}
    for name in ("date_from", "date_to"):
        if name in values:
            values[name] = days[values[name]]
    return BagFilter(**values)


@pytest.mark.parametrize("values", FILTERS, ids=lambda values: "-".join(f"{k}={v}" for k, v in values.items()))
@pytest.mark.parametrize("sort", SORTS)
def test_every_sort_and_filter_pages_through_what_the_orm_finds(yard, values, sort):
    biller = yard["biller"]
    filters = make_filter(yard, values)

    assert every_page(biller, filters, sort) == orm_order(biller, filters, sort)


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("values", [{}, {"scanned_by": "scanner"}, {"area": "other"}])
def test_a_dispatcher_lists_only_their_areas_bags(yard, sort, values):
    dispatcher = yard["dispatcher"]
    filters = make_filter(yard, values)

    listed = every_page(dispatcher, filters, sort)

    assert listed == orm_order(dispatcher, filters, sort)
    assert not set(listed) & {"SB00004", "C100004"}


def test_the_filters_find_what_they_say(yard):
    biller, find = yard["biller"], lambda **values: set(every_page(yard["biller"], make_filter(yard, values), "code"))

    assert find(on_bill=YES) == {"SB00002"}
    assert find(returned=YES) == {"SB00003"}
    assert find(scanned_by="scanner") == {"C100001", "SB00002", "SB00004"}
    assert find(in_parent=NO, kind=BagKind.CHILD) == {"C100003", "C100004"}
    assert find(product="moong") == {"M444-00001"}
    assert find(holds=NO, on_bill=NO, returned=NO) == {"M444-00001", "SB00004"}  # what "delete empty parents" takes
    assert find(date_from="yesterday", date_to="yesterday") == {"SB00004", "C100003"}
    assert biller  # billers see every area


def test_a_scanned_by_user_with_many_scans_is_probed_per_bag(yard, monkeypatch):
    # Few events: the bags they name are read first; many: a probe per bag read. Both give the same answer.
    filters = make_filter(yard, {"scanned_by": "scanner"})
    few = every_page(yard["biller"], filters, "code")
    monkeypatch.setattr(bag_list, "SCANNED_BY_FEW", 1)

    assert bag_list._scanned_by(filters)["scanned"] == bag_list.SCANNED_BY_PROBE
    assert every_page(yard["biller"], filters, "code") == few


@pytest.mark.parametrize(
    ("values", "sort"),
    [({"prefix": "F1"}, "newest"), ({"prefix": "SB"}, "-children"), ({"date_from": "today"}, "code")],
)
@pytest.mark.parametrize("narrow_rows", [1000, 3])
def test_a_range_sorted_another_way_is_read_first_unless_it_holds_too_many(
    yard, values, sort, narrow_rows, monkeypatch
):
    # A code start sorted by date (or a date range by code) reads its own range and sorts it; a range holding
    # more than NARROW_ROWS is read in the sort's order after all. Either way the same pages.
    monkeypatch.setattr(bag_list, "NARROW_ROWS", narrow_rows)
    filters = make_filter(yard, values)
    assert bag_list._narrows(filters, sort)

    assert every_page(yard["biller"], filters, sort) == orm_order(yard["biller"], filters, sort)


def test_a_hand_made_after_starts_at_the_first_page(yard):
    first = list_bags(yard["biller"], BagFilter(), sort="newest", size=3)

    assert list_bags(yard["biller"], BagFilter(), sort="newest", after="not-a-key", size=3).rows == first.rows


def test_a_list_that_would_read_too_long_is_refused(yard, monkeypatch):
    monkeypatch.setattr("bags.selectors.SEARCH_TIMEOUT_MS", 1)
    monkeypatch.setattr(bag_list, "BAG_COLUMNS_SQL", "SELECT pg_sleep(0.05)")

    with pytest.raises(SearchTooBroad):
        list_bags(yard["biller"], BagFilter(), sort="code")


def plan(user, filters: BagFilter, sort: str, kind: str) -> str:
    params = {**bag_list._params(user, filters, kind, limit=51), **bag_list._scanned_by(filters)}
    query = bag_list.statement(sort, filters, kind, scanned=params.pop("scanned")).as_string(connection.connection)
    with connection.cursor() as cursor:
        # The test database is small, so the planner would rather read the table and sort: make those the last
        # resort, and the plan shows whether an index can serve the order at all (README "Benchmarks" has the
        # figures on 2 million bags).
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            cursor.execute(f"SET LOCAL {setting} = off")
        # Statistics of this test's rows: the ones autovacuum took after an earlier test's thousands of bags
        # (each xdist worker reuses its database) made the planner pick another index now and then.
        cursor.execute("ANALYZE bags_bag, bags_link, bills_billbag, scanning_scan")
        cursor.execute("EXPLAIN " + query, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize(
    ("sort", "kind", "index"),
    [
        ("code", "", r"bags_bag_qr_id_\w+_like"),
        ("-code", BagKind.CHILD, r"bags_bag_qr_id_\w+_like"),
        ("code", BagKind.PARENT, "bag_parent_code_idx"),
        ("-code", BagKind.PARENT, "bag_parent_code_idx"),
        ("newest", BagKind.PARENT, "bag_kind_created_idx"),
        ("oldest", BagKind.CHILD, "bag_kind_created_idx"),
    ],
)
@pytest.mark.parametrize("values", [{}, {"in_parent": YES}, {"on_bill": NO}, {"scanned_by": "scanner"}])
def test_each_sort_is_read_in_an_indexs_order(yard, sort, kind, index, values):
    filters = make_filter(yard, values)
    if kind == BagKind.PARENT and values.get("in_parent"):
        return  # a parent is in no parent: nothing to read
    text = plan(yard["biller"], filters, sort, kind)

    assert re.search(rf"Index Scan( Backward)? using {index} on bags_bag bag\b", text), text
    assert not re.search(r"(^|->\s+)Sort\s+\(", text, flags=re.M), text  # no sort of what the index read


def test_one_areas_newest_are_a_range_of_its_own_index(yard):
    text = plan(yard["dispatcher"], BagFilter(), "newest", BagKind.CHILD)

    assert re.search(r"Index Scan using bag_area_kind_created_idx on bags_bag bag\b", text), text
    assert not re.search(r"(^|->\s+)Sort\s+\(", text, flags=re.M), text


def test_the_child_count_sort_reads_only_parents(yard):
    # No index holds the counts (every scan changes one): the parents alone are read, then sorted.
    text = plan(yard["biller"], BagFilter(), "children", BagKind.PARENT)

    assert re.search(r"using (bag_kind_created_idx|bag_parent_code_idx) on bags_bag bag", text), text


@pytest.fixture
def biller_client(yard):
    client = Client()
    client.force_login(yard["biller"])
    client.get("/")  # the first request after login writes the session's timeout stamps
    return client


def test_the_page_lists_bags_with_their_parent_and_bill(biller_client):
    html = biller_client.get(LIST, {"q": "sb0000", "sort": "code"}).content.decode()

    assert html.index("SB00001") < html.index("SB00002") < html.index("SB00004")
    assert (
        'href="{}"'.format(reverse("bills:detail", args=[BillBag.objects.get(bill__bill_number="DRAFT-1").bill_id]))
        in html
    )
    assert "Export CSV" in html
    assert 'name="bag"' not in html  # the tick boxes are the admins'


def test_next_page_links_keep_the_filters_and_the_sort(biller_client, yard, monkeypatch):
    monkeypatch.setattr(bag_list, "PAGE_SIZE", 10)
    filters = {"q": "f1", "kind": "child", "in_parent": "yes", "sort": "-code"}
    html = biller_client.get(LIST, filters).content.decode()

    link = re.search(r'rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert all(f"{name}={value}" in link for name, value in filters.items())
    second = biller_client.get(LIST + link).content.decode()
    assert "First page" in second
    page_one = set(re.findall(r">(F1\d{4})</a>", html))
    page_two = set(re.findall(r">(F1\d{4})</a>", second))
    assert page_two and not page_one & page_two


def test_the_page_never_counts_the_bags(biller_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(12) as queries:
        response = biller_client.get(LIST, {"kind": "parent", "on_bill": "no", "scanned_by": "scanner"})

    assert response.status_code == 200
    assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper() and "LIMIT" not in q["sql"]]
    assert not [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("DECLARE")]


def test_the_page_costs_a_fixed_number_of_queries(biller_client, django_assert_num_queries, yard):
    # Under the time limit: savepoint, SET, the newest parents, the newest children, the test transaction's
    # limit put back, release; the form's products, areas and users (the user is kept in process).
    with django_assert_num_queries(9):
        biller_client.get(LIST)
    for n in range(20):
        factories.make_parent(f"SB1{n:04d}", dispatch_area=yard["area"])
    with django_assert_num_queries(9):
        biller_client.get(LIST)


def test_a_dispatcher_pages_their_area_without_an_area_filter(client, yard):
    client.force_login(yard["dispatcher"])
    html = client.get(LIST, {"sort": "code"}).content.decode()

    assert "SB00002" in html and "SB00004" not in html and "C100004" not in html
    assert 'name="area"' not in html  # one area: theirs
    assert "Export CSV" not in html  # exports are billers' and admins'


def test_a_filter_that_does_not_parse_is_left_out(biller_client):
    response = biller_client.get(LIST, {"kind": "box", "date_from": "31-12-2026", "q": "SB 1"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "SB00001" in html and "C100003" in html


def test_the_export_takes_the_filtered_list_and_is_audited(biller_client):
    response = biller_client.get(
        reverse("exports:bag-list"), {"kind": "parent", "area": "", "on_bill": "no", "format": "csv"}
    )

    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert sorted(row["code"] for row in rows) == ["M444-00001", "SB00001", "SB00003", "SB00004"]
    entry = AuditLog.objects.get(action="table.export")
    assert entry.after == {"table": "bags", "format": "csv", "filters": {"kind": "parent", "on_bill": "no"}}


def test_a_dispatchers_export_is_refused(client, yard):
    client.force_login(yard["dispatcher"])

    assert client.get(reverse("exports:bag-list")).status_code == 403
