"""The search page: bags by code prefix with filters, bills for billers, users for admins, newest first a page
at a time (keyset: "next page" links that keep the filters, no COUNT), a dispatcher in their own area only; and
the prefix search is one the qr_id pattern index serves. The yard is laid on a stopped clock (tests/clock.py),
so "today" is one day for the whole test."""

import re
from datetime import date, timedelta

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from bags.managers import BAG_CODE_SEARCH_SQL, code_search_params
from bags.models import Bag, BagKind, Product
from bags.selectors import (
    SEARCH_TIMEOUT_MS,
    BagSearch,
    BagStatus,
    SearchTooBroad,
    bounded,
    could_be_parent,
    dated_bags,
    dated_key,
    matching_bags,
    search_bags,
    search_rows,
)
from tests import factories
from tests.bills.data import fill

pytestmark = pytest.mark.django_db
SEARCH = reverse("search")


@pytest.fixture
def yard(clock, area, mustard, moong):
    """In area A: SB00001..SB00003 (mustard; SB00001 full and complete, SB00002 holding two), M444-00001
    (moong, empty), children C100001/C100002 in SB00002 and a loose C100003. In area B: SB00004 and C100004."""
    other = factories.make_area("Area B")
    full = factories.make_parent("SB00001", dispatch_area=area)
    fill(full, 30, prefix="F1")
    Bag.objects.filter(pk=full.pk).update(completed_at=timezone.now())
    holding = factories.make_parent("SB00002", dispatch_area=area)
    factories.make_parent("SB00003", dispatch_area=area)
    factories.make_parent("M444-00001", product_code="moong", dispatch_area=area)
    for code in ("C100001", "C100002"):
        factories.link(holding, factories.make_child(code, dispatch_area=area))
    factories.make_child("C100003", dispatch_area=area)
    factories.make_parent("SB00004", dispatch_area=other)
    factories.make_child("C100004", dispatch_area=other)
    return {"area": area, "other": other, "dispatcher": factories.make_user("searcher", area=area)}


def codes(page) -> list[str]:
    return [row["qr_id"] for row in page.rows]


def test_a_code_prefix_finds_the_bags_starting_with_it_in_code_order(yard):
    biller = factories.make_user("biller-s", role=Role.BILLER)

    assert codes(search_bags(biller, BagSearch(prefix="SB"))) == ["SB00001", "SB00002", "SB00003", "SB00004"]
    assert codes(search_bags(biller, BagSearch(prefix="C10000"))) == ["C100001", "C100002", "C100003", "C100004"]
    assert codes(search_bags(biller, BagSearch(prefix="M444-"))) == ["M444-00001"]


def test_without_a_code_the_newest_bags_come_first(yard):
    biller = factories.make_user("biller-n", role=Role.BILLER)

    assert codes(search_bags(biller, BagSearch(kind=BagKind.CHILD)))[:3] == ["C100004", "C100003", "C100002"]


def test_a_dispatcher_finds_only_their_areas_bags(yard):
    assert codes(search_bags(yard["dispatcher"], BagSearch(prefix="SB"))) == ["SB00001", "SB00002", "SB00003"]
    assert codes(search_bags(yard["dispatcher"], BagSearch(prefix="SB", area=yard["other"]))) == []
    assert codes(search_bags(yard["dispatcher"], BagSearch(prefix="C100004"))) == []


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"kind": BagKind.PARENT}, ["SB00004", "M444-00001", "SB00003", "SB00002", "SB00001"]),
        ({"kind": BagKind.CHILD, "prefix": "C1"}, ["C100001", "C100002", "C100003", "C100004"]),
        ({"status": BagStatus.OPEN}, ["SB00004", "M444-00001", "SB00003", "SB00002"]),
        ({"status": BagStatus.COMPLETE}, ["SB00001"]),
        ({"status": BagStatus.LINKED, "prefix": "C"}, ["C100001", "C100002"]),
        ({"status": BagStatus.UNLINKED}, ["C100004", "C100003"]),
        ({"status": BagStatus.LINKED, "kind": BagKind.PARENT}, []),
        ({"prefix": "SB", "area": "other"}, ["SB00004"]),
    ],
)
def test_filters_narrow_the_bags(yard, filters, expected):
    biller = factories.make_user("biller-f", role=Role.BILLER)
    if filters.get("area") == "other":
        filters = {**filters, "area": yard["other"]}

    assert codes(search_bags(biller, BagSearch(**filters))) == expected


def test_the_product_filter_finds_that_products_parents(yard, moong):
    biller = factories.make_user("biller-p", role=Role.BILLER)

    assert codes(search_bags(biller, BagSearch(product=moong))) == ["M444-00001"]
    assert codes(search_bags(biller, BagSearch(product=moong, kind=BagKind.CHILD))) == []


def test_the_date_range_is_in_local_days_both_ends_included(yard):
    biller = factories.make_user("biller-d", role=Role.BILLER)
    today = timezone.localdate()
    Bag.objects.filter(qr_id="SB00003").update(created_at=timezone.now() - timedelta(days=3))

    assert codes(search_bags(biller, BagSearch(prefix="SB", date_to=today - timedelta(days=3)))) == ["SB00003"]
    assert "SB00003" not in codes(search_bags(biller, BagSearch(prefix="SB", date_from=today - timedelta(days=2))))
    assert codes(search_bags(biller, BagSearch(prefix="SB00002", date_from=today, date_to=today))) == ["SB00002"]


def test_a_date_range_without_a_code_lists_both_kinds_newest_first_by_first_scan(yard):
    biller = factories.make_user("biller-r", role=Role.BILLER)
    today = timezone.localdate()
    Bag.objects.filter(qr_id="SB00003").update(created_at=timezone.now() - timedelta(days=3))
    Bag.objects.filter(qr_id="C100001").update(created_at=timezone.now() - timedelta(days=4))
    Bag.objects.filter(qr_id="C100004").update(created_at=timezone.now() - timedelta(days=40))

    recent = codes(search_bags(biller, BagSearch(date_from=today - timedelta(days=5)), size=100))
    back_then = search_bags(biller, BagSearch(date_from=today - timedelta(days=5), date_to=today - timedelta(days=1)))

    expected = search_rows(matching_bags(biller, BagSearch(date_from=today - timedelta(days=5))))
    assert recent == [row["qr_id"] for row in sorted(expected, key=lambda r: (r["created_at"], r["pk"]), reverse=True)]
    assert recent[-2:] == ["SB00003", "C100001"] and "C100004" not in recent
    assert codes(back_then) == ["SB00003", "C100001"]
    assert codes(search_bags(yard["dispatcher"], BagSearch(date_to=today - timedelta(days=30)))) == []  # area B's


def test_pages_follow_one_another_without_a_gap_or_a_repeat(yard):
    biller = factories.make_user("biller-k", role=Role.BILLER)
    today = timezone.localdate()
    for search, expected in [
        (BagSearch(prefix="F1"), [f"F1{n:04d}" for n in range(1, 31)]),
        (BagSearch(kind=BagKind.CHILD, status=BagStatus.LINKED), None),
        (BagSearch(date_from=today), None),
        (BagSearch(kind=BagKind.CHILD, date_to=today), None),
    ]:
        seen, after = [], None
        while True:
            page = search_bags(biller, search, after=after, size=7)
            seen += codes(page)
            if page.next_after is None:
                break
            after = page.next_after
        assert seen == (expected or codes(search_bags(biller, search, size=100)))
        assert len(seen) == len(set(seen)) >= 30


@pytest.fixture
def biller_client(yard):
    client = Client()
    client.force_login(factories.make_user("biller-page", role=Role.BILLER))
    client.get("/")  # the first request after login writes the session's timeout stamps
    return client


def test_next_page_links_keep_the_filters(biller_client, yard):
    today = timezone.localdate().isoformat()
    Bag.objects.filter(qr_id="F10028").update(created_at=timezone.now() - timedelta(days=3))
    filters = {"q": "f1", "show": "bags", "kind": "child", "status": "linked", "date_from": today, "date_to": today}
    html = biller_client.get(SEARCH, filters).content.decode()

    link = re.search(r'<a class="btn btn-outline-primary" rel="next" href="([^"]+)"', html).group(1)
    query = link.replace("&amp;", "&")
    assert "after=F10025" in query
    assert all(f"{name}={value}" in query for name, value in filters.items())
    second = biller_client.get(SEARCH + query).content.decode()
    assert "F10030" in second and "F10005" not in second
    assert "F10028" not in second  # the date range still applies on the second page
    assert "First page" in second


def test_the_search_page_never_counts_the_bags(biller_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(9) as queries:
        response = biller_client.get(SEARCH, {"q": "SB", "show": "bags"})

    assert response.status_code == 200
    assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]


def test_the_search_page_costs_a_fixed_number_of_queries(biller_client, django_assert_num_queries):
    # bags (one page with product, area and parent) under its time limit: savepoint, SET, search, the test
    # transaction's limit put back, release; bills; the exact code; the form's products and areas (the user is
    # kept in process). Outside a test's transaction the put-back and the savepoint are not there.
    with django_assert_num_queries(9) as queries:
        response = biller_client.get(SEARCH, {"q": "SB00001"})

    # Each a plain statement: a server-side cursor (DECLARE, FETCH, CLOSE) is three round trips for two rows.
    assert not [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("DECLARE")]
    html = response.content.decode()
    assert 'id="search-exact"' in html
    assert f'href="{reverse("tracking:bag", args=["SB00001"])}"' in html


def test_everything_shows_a_few_of_each_with_a_link_to_all(biller_client):
    html = biller_client.get(SEARCH, {"q": "F1"}).content.decode()

    assert html.count('class="tt-result"') == 5
    assert "All bags that match" in html
    assert 'id="results-bills"' in html and 'id="results-users"' not in html


def test_bills_are_found_by_number_or_customer_for_billers(biller_client, yard):
    owner = factories.make_user("owner", role=Role.BILLER)
    factories.make_bill(owner, bill_number="INV-100", customer="Jaipur depot")
    factories.make_bill(owner, bill_number="INV-200", customer="Kota mill", status="draft")
    factories.make_bill(
        owner,
        bill_number="INV-300",
        customer="Jaipur depot",
        bill_date=date(2026, 1, 5),
        status="finalised",
        finalised_at=timezone.now(),
        frozen_full_parent_weight_kg=30,
    )

    by_customer = biller_client.get(SEARCH, {"q": "jaipur", "show": "bills"}).content.decode()
    drafts = biller_client.get(SEARCH, {"show": "bills", "status": "draft"}).content.decode()
    january = biller_client.get(SEARCH, {"show": "bills", "date_from": "2026-01-01", "date_to": "2026-01-31"})

    assert "INV-100" in by_customer and "INV-300" in by_customer and "INV-200" not in by_customer
    assert "INV-100" in drafts and "INV-200" in drafts and "INV-300" not in drafts
    assert "INV-300" in january.content.decode() and "INV-100" not in january.content.decode()


def test_a_filter_a_kind_of_result_has_not_leaves_it_out_of_everything(biller_client, yard):
    owner = factories.make_user("owner2", role=Role.BILLER)
    factories.make_bill(owner, bill_number="SB-BILL", customer="x")

    html = biller_client.get(SEARCH, {"q": "SB", "kind": "parent"}).content.decode()

    assert 'id="results-bags"' in html and 'id="results-bills"' not in html
    assert "Not searched with these filters: Bills" in html


def test_dispatchers_search_only_bags(client, yard):
    client.force_login(yard["dispatcher"])
    factories.make_bill(factories.make_user("owner3", role=Role.BILLER), bill_number="SB-99")

    html = client.get(SEARCH, {"q": "SB", "show": "bills"}).content.decode()

    assert 'id="results-bags"' in html and 'id="results-bills"' not in html
    assert "SB00004" not in html and "SB00003" in html
    assert 'name="area"' not in html and 'name="role"' not in html


def test_users_are_searched_by_admins_only(admin_client, biller_client, yard):
    factories.make_user("kiran-dispatch", area=yard["area"])

    found = admin_client.get(SEARCH, {"q": "kiran", "show": "users"}).content.decode()
    refused = biller_client.get(SEARCH, {"q": "kiran", "show": "users"}).content.decode()

    assert "kiran-dispatch" in found and "Dispatcher" in found
    assert "kiran-dispatch" not in refused


def test_admins_filter_users_by_role_status_and_joining_date(admin_client, yard):
    factories.make_user("kiran-bills", role=Role.BILLER)
    gone = factories.make_user("kiran-gone", role=Role.BILLER)
    gone.is_active = False
    gone.date_joined = timezone.now() - timedelta(days=40)
    gone.save()
    factories.make_user("kiran-dock", area=yard["area"])

    def found(**filters) -> set[str]:
        html = admin_client.get(SEARCH, {"q": "kiran", "show": "users", **filters}).content.decode()
        return set(re.findall(r">(kiran-\w+)</a>", html))

    assert found() == {"kiran-bills", "kiran-gone", "kiran-dock"}
    assert found(role="biller") == {"kiran-bills", "kiran-gone"}
    assert found(role="biller", status="active") == {"kiran-bills"}
    assert found(status="inactive") == {"kiran-gone"}
    assert found(area=yard["area"].code) == {"kiran-dock"}
    assert found(date_to=(timezone.localdate() - timedelta(days=30)).isoformat()) == {"kiran-gone"}
    assert found(date_from=timezone.localdate().isoformat()) == {"kiran-bills", "kiran-dock"}


def test_a_code_start_no_code_can_have_says_why(biller_client):
    response = biller_client.get(SEARCH, {"q": "SB 1", "show": "bags"})

    assert response.status_code == 200
    assert "letters, digits and &#x27;-&#x27;" in response.content.decode()


def test_a_filter_that_does_not_parse_is_ignored(biller_client, yard):
    response = biller_client.get(SEARCH, {"q": "SB0000", "show": "bags", "date_from": "yesterday", "product": "x"})

    assert response.status_code == 200
    assert "SB00004" in response.content.decode()


OUT_OF_RANGE = "Pick a date between 2000-01-01 and 2099-12-31."


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"date_to": "9999-12-31"}, OUT_OF_RANGE),
        ({"date_from": "9999-12-31"}, OUT_OF_RANGE),
        ({"date_from": "0001-01-01"}, OUT_OF_RANGE),
        ({"date_to": "0001-01-01"}, OUT_OF_RANGE),
        ({"date_from": "99999-01-01"}, "Enter a valid date."),
    ],
    ids=["to-9999-12-31", "from-9999-12-31", "from-0001-01-01", "to-0001-01-01", "from-99999-01-01"],
)
def test_a_date_past_the_sane_years_is_ignored_with_a_message(admin_client, yard, filters, message):
    response = admin_client.get(SEARCH, filters)  # admins search bags, bills and users: every date filter

    assert response.status_code == 200
    assert message in response.content.decode()


def code_search_plan(**params) -> str:
    values = code_search_params(prefix="SB0000", limit=26, **params)
    with connection.cursor() as cursor:
        # The test database is small, so the planner would rather read the table and sort: make those the
        # last resort, and the plan shows whether the index can serve the range and its order at all (bench/
        # pages.py --explain shows the plans on 2 million bags, where the planner needs no nudge).
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute("EXPLAIN " + BAG_CODE_SEARCH_SQL, values)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize("params", [{}, {"after": "SB00002"}, {"kind": "child", "linked": False}])
def test_the_code_search_is_a_range_of_the_qr_id_pattern_index_read_in_order(yard, params):
    plan = code_search_plan(**params)

    assert re.search(r"Index Scan using bags_bag_qr_id_\w+_like on bags_bag", plan), plan
    assert "~>=~ 'SB0000'" in plan and "~<~ 'SB0001'" in plan  # the start became the index range
    assert "Sort" not in plan  # the index gives the order: no sort of the whole range


@pytest.mark.parametrize("who", ["biller", "dispatcher"])
def test_a_date_range_without_a_code_is_a_range_of_a_created_at_index_read_in_order(yard, who):
    user = factories.make_user("biller-x", role=Role.BILLER) if who == "biller" else yard["dispatcher"]
    day = timezone.localdate() - timedelta(days=300)
    search = BagSearch(kind=BagKind.CHILD, status=BagStatus.UNLINKED, date_from=day, date_to=day)
    page = search_bags(user, search)  # a first page, for a real second page's ``after``
    after = dated_key({"created_at": timezone.now(), "pk": 10**6}) if not page.rows else page.next_after
    with connection.cursor() as cursor:
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            cursor.execute(f"SET LOCAL {setting} = off")
        plan = dated_bags(user, search, after=after)[:26].explain()

    # (kind, created_at), or (area, kind, created_at) for one area's: which one is the planner's pick.
    assert re.search(r"Index Scan using bag_(area_)?kind_created_idx on bags_bag", plan), plan
    assert "Index Cond" in plan and "created_at >=" in plan  # the range is the index's, not a filter
    # The index gives the order: no sort of the range, at most of the ids within one time (Incremental Sort).
    assert not re.search(r"(^|->\s+)Sort\s+\(", plan, flags=re.M), plan


def orm_code_search(user, search: BagSearch) -> list[dict]:
    """The code search, the obvious way: the ORM's filters, sorted by the codes' bytes (the index's order)."""
    return sorted(search_rows(matching_bags(user, search)), key=lambda row: row["qr_id"].encode())


@pytest.mark.parametrize(
    "filters",
    [
        {"prefix": "S"},
        {"prefix": "C1"},
        {"prefix": "F10", "status": BagStatus.LINKED},
        {"prefix": "C", "status": BagStatus.UNLINKED},
        {"prefix": "SB", "status": BagStatus.OPEN},
        {"prefix": "SB", "status": BagStatus.COMPLETE},
        {"prefix": "M", "kind": BagKind.PARENT},
        {"prefix": "SB0000", "area": "other"},
        {"prefix": "C10000", "date_from": "today"},
    ],
)
@pytest.mark.parametrize("who", ["biller", "dispatcher"])
def test_the_code_search_statement_answers_as_the_orm_does(yard, filters, who, moong):
    user = factories.make_user(f"biller-{who}", role=Role.BILLER) if who == "biller" else yard["dispatcher"]
    if filters.get("area") == "other":
        filters = {**filters, "area": yard["other"]}
    if filters.get("date_from") == "today":
        filters = {**filters, "date_from": timezone.localdate()}
    search = BagSearch(**filters)

    expected = orm_code_search(user, search)
    assert codes(search_bags(user, search, size=100)) == [row["qr_id"] for row in expected]
    assert search_bags(user, search, size=100).rows == expected


def test_a_parent_filter_with_a_start_no_parent_has_reads_nothing(yard, django_assert_num_queries):
    biller = factories.make_user("biller-c", role=Role.BILLER)
    factories.product()
    Product.objects.parent_formats()  # read once, then kept, as after any scan: the search reads them from there

    with django_assert_num_queries(0):
        page = search_bags(biller, BagSearch(prefix="CB0", kind=BagKind.PARENT, status=BagStatus.OPEN))

    assert page.rows == []


@pytest.mark.parametrize(
    ("prefix", "could"),
    [("S", True), ("SB1", True), ("SB123456", False), ("M44", True), ("M444-0", True), ("CB", False), ("SBX", False)],
)
def test_which_starts_a_parent_code_can_have(mustard, moong, prefix, could):
    assert could_be_parent(prefix) is could


def test_a_search_that_would_read_too_long_is_refused(db, monkeypatch):
    monkeypatch.setattr("bags.selectors.SEARCH_TIMEOUT_MS", 50)

    with pytest.raises(SearchTooBroad) as refusal, bounded(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(1)")

    assert "type more of the code" in refusal.value.message


def _statement_timeout() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


def test_a_search_inside_a_transaction_leaves_that_transactions_time_limit_as_it_was(db):
    # The test's transaction stands for a caller's: the search's limit cut the system page's statements when a
    # test opened it after a search.
    with transaction.atomic():
        before = _statement_timeout()
        with bounded():
            assert _statement_timeout() == f"{SEARCH_TIMEOUT_MS}ms"
        assert _statement_timeout() == before != f"{SEARCH_TIMEOUT_MS}ms"


def test_a_search_refused_inside_a_transaction_leaves_its_time_limit_as_it_was(db, monkeypatch):
    monkeypatch.setattr("bags.selectors.SEARCH_TIMEOUT_MS", 50)
    before = _statement_timeout()

    with pytest.raises(SearchTooBroad), bounded(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(1)")

    assert _statement_timeout() == before != "50ms"
