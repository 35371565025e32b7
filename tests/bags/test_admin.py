"""The Django admin with 10,000 bags stored: every page loads in a bounded number of queries, the bag
list never counts the whole table, and the bag and product admins apply the code rules and audit."""

import re
from datetime import date

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import PromotionRequest, Role, User
from audit.choices import AuditAction
from audit.models import AuditLog
from bags import qr
from bags.managers import forget_parent_formats
from bags.models import Bag, BagKind, Link, Product
from bills.models import Bill, BillBag
from imports import jobs
from labels.models import LabelBatch
from returns.models import ReturnTicket, ReturnTicketBag
from scanning.models import Scan, ScanAction, ScanReply
from tests import factories
from traitortrack.admin_paginator import EstimatedCountPaginator

MUSTARD_PARENTS = 290
MOONG_PARENTS = 10
CHILDREN = 9_700
FULL_PARENTS = 200  # x 30 children each = 6,000 links
PARENTS_ON_BILL = 20
# Every admin page, whatever the table sizes: a constant, not a function of the rows.
MAX_QUERIES_PER_PAGE = 15


def _user(username: str, role: str, **fields) -> User:
    # An unusable password: hashing one costs half a second, and these users only force_login.
    user = User(username=username, role=role, **fields)
    user.set_unusable_password()
    user.save()
    return user


def _build_warehouse() -> dict:
    area = factories.make_area("Warehouse one")
    dispatcher = _user("wh-dispatcher", Role.DISPATCHER, dispatch_area=area)
    biller = _user("wh-biller", Role.BILLER)
    boss = _user("wh-admin", Role.ADMIN, is_staff=True, is_superuser=True)
    mustard, moong = factories.product("mustard"), factories.product("moong")

    parents = [
        Bag(qr_id=f"SB{n:05d}", kind=BagKind.PARENT, product=mustard, dispatch_area=area, created_by=dispatcher)
        for n in range(1, MUSTARD_PARENTS + 1)
    ] + [
        Bag(qr_id=f"M444-{n:05d}", kind=BagKind.PARENT, product=moong, dispatch_area=area, created_by=dispatcher)
        for n in range(1, MOONG_PARENTS + 1)
    ]
    children = [
        Bag(qr_id=f"C{n:07d}", kind=BagKind.CHILD, dispatch_area=area, created_by=dispatcher)
        for n in range(1, CHILDREN + 1)
    ]
    Bag.objects.bulk_create(parents + children, batch_size=5_000)

    links = [
        Link(parent=parents[p], child=children[p * 30 + c], created_by=dispatcher)
        for p in range(FULL_PARENTS)
        for c in range(30)
    ]
    Link.objects.bulk_create(links, batch_size=5_000)
    Bag.objects.filter(pk__in=[bag.pk for bag in parents[:FULL_PARENTS]]).update(completed_at=timezone.now())
    Scan.objects.bulk_create(
        Scan(
            user=dispatcher,
            action=ScanAction.LINK,
            bag=link.child,
            bag_qr=link.child.qr_id,
            parent=link.parent,
            parent_qr=link.parent.qr_id,
            dispatch_area=area,
            client_scan_id=f"device-1-{i}",
        )
        for i, link in enumerate(links[:600])
    )
    factories.make_lockout()
    PromotionRequest.objects.create(
        user=dispatcher, from_role=Role.DISPATCHER, to_role=Role.BILLER, reason="Covering the billing desk"
    )
    ScanReply.objects.bulk_create(
        ScanReply(client_scan_id=f"device-1-{i}", user=dispatcher, status=200, body={"ok": True, "code": "linked"})
        for i in range(600)
    )
    bill = factories.make_bill(biller, bill_number="INV-100", expected_parents=PARENTS_ON_BILL)
    BillBag.objects.bulk_create(
        BillBag(bill=bill, parent_bag=parent, added_by=biller) for parent in parents[:PARENTS_ON_BILL]
    )
    ticket = ReturnTicket.objects.create(
        number="RTN-20261120-0001", day=date(2026, 11, 20), serial=1, source="Gate 2", created_by=biller
    )
    ReturnTicketBag.objects.bulk_create(
        ReturnTicketBag(
            ticket=ticket, parent_bag=parent, parent_qr=parent.qr_id, bill_number="INV-100", added_by=biller
        )
        for parent in parents[:PARENTS_ON_BILL]
    )
    AuditLog.objects.bulk_create(
        AuditLog(
            actor=boss,
            actor_username=boss.username,
            action=AuditAction.BAG_CHANGE,
            object_type="bags.bag",
            object_id=str(bag.pk),
            object_repr=bag.qr_id,
            before={"dispatch_area": None},
            after={"dispatch_area": area.pk},
        )
        for bag in children[-50:]
    )
    with connection.cursor() as cursor:
        # Check the deferred foreign keys of these 20,000 rows now, once: otherwise every test's
        # constraint check (in its own savepoint, rolled back) re-checks them all.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        # What autovacuum does for a real table: without statistics there is no estimate to use.
        cursor.execute("ANALYZE bags_bag, bags_link")
    # An admin upload queued for its dry run: an import job, and procrastinate's job for it.
    upload = jobs.store_upload(SimpleUploadedFile("links.csv", b"parent,child\nSB00001,CH0000000001\n"), boss)
    jobs.queue(subject="bags", file_name="links.csv", upload=upload, dry_run=True, requested_by=boss)
    # The label admin's rows: a printer and a batch of printed parent codes.
    factories.make_printer()
    LabelBatch.objects.create(product=parents[0].product, first_number=1, last_number=10, layout="a4-3x8")
    return {"area": area, "dispatcher": dispatcher, "boss": boss, "bill": bill, "parents": parents}


@pytest.fixture(scope="module")
def warehouse(django_db_setup, django_db_blocker):
    """10,000 bags built once for the module, in a transaction rolled back at its end.

    Each test still runs in its own savepoint (the ``db`` fixture), so what a test changes is undone.
    """
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield _build_warehouse()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            # ANALYZE's row counts outlive a rollback: re-count, so later tests see empty tables as empty.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE bags_bag, bags_link")


@pytest.fixture
def boss_client(warehouse, db, verified_login) -> Client:
    return verified_login(Client(), warehouse["boss"])


@pytest.fixture
def fresh_parent_formats():
    """Products changed in a test are rolled back; the cached formats must be dropped with them."""
    forget_parent_formats()
    yield
    forget_parent_formats()


def _admin_pages() -> list[tuple[type, str]]:
    pages = []
    for model in sorted(admin.site._registry, key=lambda m: m._meta.label):
        pages += [(model, "changelist"), (model, "add"), (model, "change")]
    return pages


def _url(model: type, page: str, obj=None) -> str:
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}"
    return reverse(name, args=[obj.pk] if obj is not None else None)


def _counts_whole_table(sql: str, table: str) -> bool:
    return "COUNT(" in sql.upper() and f'FROM "{table}"' in sql and " WHERE " not in sql.upper()


@pytest.mark.parametrize(
    ("model", "page"), _admin_pages(), ids=lambda value: value if isinstance(value, str) else value._meta.label
)
def test_every_admin_page_loads_with_10000_bags_in_bounded_queries(
    model, page, warehouse, boss_client, django_assert_max_num_queries
):
    model_admin = admin.site._registry[model]
    request = RequestFactory().get("/")
    request.user = warehouse["boss"]
    expected_status = 200
    obj = None
    if page == "change":
        obj = model._default_manager.order_by("pk").first()
        assert obj is not None, f"the warehouse fixture has no {model._meta.label} to open"
    if page == "add" and not model_admin.has_add_permission(request):
        expected_status = 403  # read-only admins (scans, audit log, links) have no add page

    with django_assert_max_num_queries(MAX_QUERIES_PER_PAGE) as queries:
        response = boss_client.get(_url(model, page, obj))

    assert response.status_code == expected_status
    for table in ("bags_bag", "bags_link"):
        assert not any(_counts_whole_table(q["sql"], table) for q in queries.captured_queries)


def test_bag_changelist_does_not_count_the_whole_table(warehouse, boss_client):
    with CaptureQueriesContext(connection) as queries:
        response = boss_client.get(_url(Bag, "changelist"))

    assert response.status_code == 200
    assert not any(_counts_whole_table(q["sql"], "bags_bag") for q in queries.captured_queries)
    changelist = response.context["cl"]
    assert changelist.paginator.count_is_estimate
    assert 9_000 <= changelist.result_count <= 12_000
    assert len(changelist.result_list) == changelist.list_per_page


def test_filtered_bag_changelist_counts_exactly(warehouse, boss_client):
    response = boss_client.get(_url(Bag, "changelist"), {"kind__exact": "parent"})

    changelist = response.context["cl"]
    assert not changelist.paginator.count_is_estimate
    assert changelist.result_count == MUSTARD_PARENTS + MOONG_PARENTS


def test_last_page_of_an_estimated_list_is_not_cut_at_the_estimate(warehouse, db):
    paginator = EstimatedCountPaginator(Bag.objects.order_by("pk"), per_page=100)
    paginator.count = 150  # an estimate lower than the 10,000 rows really there

    paginator.count_is_estimate = True
    assert len(paginator.page(2).object_list) == 100


def test_small_tables_are_counted_exactly(warehouse, db):
    paginator = EstimatedCountPaginator(Product.objects.order_by("pk"), per_page=100)

    assert paginator.count == Product.objects.count()
    assert not paginator.count_is_estimate


def test_bag_search_by_code_prefix_finds_the_right_bags(warehouse, boss_client):
    response = boss_client.get(_url(Bag, "changelist"), {"q": " sb0001 "})

    found = sorted(bag.qr_id for bag in response.context["cl"].result_list)
    assert found == [f"SB{n:05d}" for n in range(10, 20)]


def test_bag_search_takes_several_pasted_codes(warehouse, boss_client):
    response = boss_client.get(_url(Bag, "changelist"), {"q": "c0000001 m444-00002"})

    found = sorted(bag.qr_id for bag in response.context["cl"].result_list)
    assert found == ["C0000001", "M444-00002"]


def test_bag_prefix_search_can_use_the_pattern_index(warehouse, db):
    # Proves the lookup the search builds (qr_id::text LIKE 'SB0001%') matches the varchar_pattern_ops
    # index; with the planner's choice left free, a 10,000-row table may reasonably be scanned.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = Bag.objects.filter(qr_id__startswith="SB0001").explain()

    # A pattern-ops index answers the prefix as a range (~>=~ / ~<~); a plain index could not.
    assert re.search(r"Index (Only )?Scan using \w+ on bags_bag", plan)
    assert "~>=~ 'SB0001'" in plan


def test_autocomplete_offers_only_parents_for_a_parent_field(warehouse, boss_client):
    response = boss_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "bills", "model_name": "billbag", "field_name": "parent_bag", "term": ""},
    )

    assert response.status_code == 200
    ids = [int(result["id"]) for result in response.json()["results"]]
    assert ids
    assert set(Bag.objects.filter(pk__in=ids).values_list("kind", flat=True)) == {BagKind.PARENT}


def test_autocomplete_offers_only_children_for_a_child_field(warehouse, boss_client):
    response = boss_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "bags", "model_name": "link", "field_name": "child", "term": "c00000"},
    )

    texts = [result["text"] for result in response.json()["results"]]
    assert texts
    assert all(text.startswith("C00000") for text in texts)


def test_link_search_finds_a_parents_children(warehouse, boss_client):
    response = boss_client.get(_url(Link, "changelist"), {"q": "SB00002"})

    links = response.context["cl"].result_list
    assert len(links) == 30
    assert {link.parent.qr_id for link in links} == {"SB00002"}


def test_bag_form_refuses_a_bad_code_with_the_qr_message_and_changes_nothing(warehouse, boss_client):
    bags_before, audit_before = Bag.objects.count(), AuditLog.objects.count()
    with pytest.raises(qr.QRCodeError) as refusal:
        qr.classify("sb-123", Product.objects.parent_formats())

    response = boss_client.post(_url(Bag, "add"), {"qr_id": "sb-123", "kind": "parent", "product": ""})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["qr_id"] == [refusal.value.message]
    assert "looks like a Mustard parent code" in refusal.value.message
    assert Bag.objects.count() == bags_before
    assert AuditLog.objects.count() == audit_before


def test_bag_form_refuses_a_kind_the_code_does_not_have(warehouse, boss_client):
    response = boss_client.post(_url(Bag, "add"), {"qr_id": "SB99999", "kind": "child"})

    assert response.context["adminform"].form.errors["kind"] == ["'SB99999' is a parent bag code."]
    assert not Bag.objects.filter(qr_id="SB99999").exists()


def test_bag_form_refuses_a_parent_code_of_another_product(warehouse, boss_client):
    moong = factories.product("moong")

    response = boss_client.post(_url(Bag, "add"), {"qr_id": "SB99999", "kind": "parent", "product": moong.pk})

    assert response.context["adminform"].form.errors["product"] == ["'SB99999' is a Mustard parent code, not Moong."]


def test_bag_form_normalises_the_code_fills_the_product_and_audits(warehouse, boss_client):
    response = boss_client.post(_url(Bag, "add"), {"qr_id": "  sb99999 ", "kind": "parent"})

    assert response.status_code == 302
    bag = Bag.objects.get(qr_id="SB99999")
    assert bag.product.code == "mustard"
    assert bag.created_by == warehouse["boss"]
    entry = AuditLog.objects.get(action=AuditAction.BAG_CREATE, object_id=str(bag.pk))
    assert entry.actor_username == "wh-admin"
    assert entry.before is None
    assert entry.after["qr_id"] == "SB99999"


def test_a_bag_keeps_its_kind_when_its_code_is_corrected(warehouse, boss_client):
    child = Bag.objects.get(qr_id="C0009000")

    response = boss_client.post(_url(Bag, "change", child), {"qr_id": "SB99998", "kind": "child"})

    assert "a bag keeps its kind for life" in response.context["adminform"].form.errors["qr_id"][0]
    child.refresh_from_db()
    assert child.qr_id == "C0009000"


def test_a_deactivated_products_codes_stay_parent_codes(warehouse, boss_client):
    Product.objects.filter(code="mustard").update(is_active=False)

    response = boss_client.post(_url(Bag, "add"), {"qr_id": "SB99997", "kind": "child"})

    errors = response.context["adminform"].form.errors
    assert errors["kind"] == ["'SB99997' is a parent bag code."]
    assert "Mustard is not active" in errors["qr_id"][0]
    assert not Bag.objects.filter(qr_id="SB99997").exists()


def test_a_bag_of_a_deactivated_product_can_still_be_corrected(warehouse, boss_client):
    Product.objects.filter(code="moong").update(is_active=False)
    parent = Bag.objects.get(qr_id="M444-00001")

    response = boss_client.post(_url(Bag, "change", parent), {"qr_id": "m444-00001", "kind": "parent"})

    assert response.status_code == 302


def test_an_empty_parent_can_be_deleted_and_is_audited(warehouse, boss_client):
    parent = Bag.objects.get(qr_id="SB00250")

    response = boss_client.post(_url(Bag, "delete", parent), {"post": "yes"})

    assert response.status_code == 302
    assert AuditLog.objects.get(action=AuditAction.BAG_DELETE).before["qr_id"] == "SB00250"


def test_changing_a_bag_records_before_and_after(warehouse, boss_client):
    other_area = factories.make_area("Warehouse two")
    child = Bag.objects.get(qr_id="C0009001")

    response = boss_client.post(
        _url(Bag, "change", child), {"qr_id": "c0009001", "kind": "child", "dispatch_area": other_area.pk}
    )

    assert response.status_code == 302
    entry = AuditLog.objects.get(action=AuditAction.BAG_CHANGE, object_id=str(child.pk))
    assert entry.before["dispatch_area"] == warehouse["area"].pk
    assert entry.after["dispatch_area"] == other_area.pk
    assert entry.before["created_at"] == entry.after["created_at"]  # datetimes stored as text


def test_deleting_a_linked_child_unlinks_it_first_and_keeps_the_count(warehouse, boss_client):
    child = Bag.objects.get(qr_id="C0000031")  # the first child of SB00002
    child_pk = child.pk

    response = boss_client.post(_url(Bag, "delete", child), {"post": "yes"})

    assert response.status_code == 302
    assert not Bag.objects.filter(pk=child_pk).exists()
    assert Bag.objects.get(qr_id="SB00002").child_count == 29
    unlink = Scan.objects.get(action=ScanAction.UNLINK, bag_qr="C0000031")
    assert (unlink.parent_qr, unlink.user) == ("SB00002", warehouse["boss"])
    link_entry = AuditLog.objects.get(action=AuditAction.LINK_DELETE)
    assert link_entry.object_repr == "C0000031 in SB00002"
    bag_entry = AuditLog.objects.get(action=AuditAction.BAG_DELETE, object_id=str(child_pk))
    assert bag_entry.before["qr_id"] == "C0000031"
    assert bag_entry.after is None


def test_a_parent_holding_children_cannot_be_deleted(warehouse, boss_client):
    parent = Bag.objects.get(qr_id="SB00003")

    response = boss_client.post(_url(Bag, "delete", parent), {"post": "yes"})

    assert response.status_code == 200
    protected = response.context["protected"]
    assert protected[0] == "Child in a parent: C0000061 in SB00003"
    assert {"... and more children in parents", "Parent on a bill: SB00003 on INV-100"} <= set(protected)
    assert Bag.objects.filter(pk=parent.pk).exists()
    assert not AuditLog.objects.filter(action=AuditAction.BAG_DELETE).exists()


def test_unlinking_in_the_link_admin_keeps_count_history_and_audit(warehouse, boss_client):
    link = Link.objects.select_related("child").get(child__qr_id="C0000061")  # in SB00003

    response = boss_client.post(_url(Link, "delete", link), {"post": "yes", "reason": " Wrong parent "})

    assert response.status_code == 302
    assert not Link.objects.filter(pk=link.pk).exists()
    assert Bag.objects.get(qr_id="SB00003").child_count == 29
    unlink = Scan.objects.get(action=ScanAction.UNLINK, bag_qr="C0000061", parent_qr="SB00003")
    assert unlink.reason == "Wrong parent"
    entry = AuditLog.objects.get(action=AuditAction.LINK_DELETE)
    assert (entry.before["child"], entry.after) == (link.child_id, {"reason": "Wrong parent"})


def test_unlinking_in_the_link_admin_asks_for_a_reason_and_changes_nothing_without_one(warehouse, boss_client):
    link = Link.objects.select_related("child").get(child__qr_id="C0000061")

    page = boss_client.get(_url(Link, "delete", link))
    response = boss_client.post(_url(Link, "delete", link), {"post": "yes", "reason": "  "}, follow=True)

    assert 'name="reason"' in page.content.decode()
    assert response.status_code == 200
    assert "Say why the children are unlinked" in response.content.decode()
    assert Link.objects.filter(pk=link.pk).exists()
    assert not Scan.objects.filter(action=ScanAction.UNLINK).exists()


def test_a_child_whose_parent_is_on_a_finalised_bill_is_not_unlinked_in_the_admin(warehouse, boss_client):
    factories.finalise(warehouse["bill"])
    link = Link.objects.select_related("child", "parent").get(child__qr_id="C0000061")  # SB00003, on INV-100

    response = boss_client.post(_url(Link, "delete", link), {"post": "yes", "reason": "Wrong parent"})

    assert response.status_code == 200
    assert response.context["protected"] == ["C0000061 in SB00003: SB00003 is on finalised bill INV-100"]
    assert Link.objects.filter(pk=link.pk).exists()
    assert not Scan.objects.filter(action=ScanAction.UNLINK).exists()


def test_unlinking_several_children_at_once_keeps_each_parents_count(warehouse, boss_client):
    links = list(Link.objects.filter(child__qr_id__in=["C0000121", "C0000122", "C0000151"]))  # SB00005, SB00006

    response = boss_client.post(
        _url(Link, "changelist"),
        {
            "action": "delete_selected",
            "post": "yes",
            "reason": "Wrong parents",
            "_selected_action": [link.pk for link in links],
        },
    )

    assert response.status_code == 302
    assert set(Scan.objects.filter(action=ScanAction.UNLINK).values_list("reason", flat=True)) == {"Wrong parents"}
    counts = dict(Bag.objects.filter(qr_id__in=["SB00005", "SB00006"]).values_list("qr_id", "child_count"))
    assert counts == {"SB00005": 28, "SB00006": 29}
    assert Scan.objects.filter(action=ScanAction.UNLINK).count() == 3
    assert AuditLog.objects.filter(action=AuditAction.LINK_DELETE).count() == 3


def test_unlinking_several_children_without_a_reason_shows_the_confirm_page_again(warehouse, boss_client):
    links = list(Link.objects.filter(child__qr_id__in=["C0000121", "C0000122"]))

    response = boss_client.post(
        _url(Link, "changelist"),
        {"action": "delete_selected", "post": "yes", "_selected_action": [link.pk for link in links]},
    )

    assert response.status_code == 200
    assert 'name="reason"' in response.content.decode()
    assert Link.objects.filter(pk__in=[link.pk for link in links]).count() == 2
    assert not Scan.objects.filter(action=ScanAction.UNLINK).exists()


def test_deleting_selected_bags_unlinks_the_linked_ones(warehouse, boss_client):
    bags = list(Bag.objects.filter(qr_id__in=["C0000181", "C0009500"]))  # in SB00007; never linked

    response = boss_client.post(
        _url(Bag, "changelist"),
        {"action": "delete_selected", "post": "yes", "_selected_action": [bag.pk for bag in bags]},
    )

    assert response.status_code == 302
    assert not Bag.objects.filter(pk__in=[bag.pk for bag in bags]).exists()
    assert Bag.objects.get(qr_id="SB00007").child_count == 29
    assert AuditLog.objects.filter(action=AuditAction.BAG_DELETE).count() == 2
    assert AuditLog.objects.filter(action=AuditAction.LINK_DELETE).count() == 1


def test_links_cannot_be_added_or_edited_in_the_admin(warehouse, boss_client):
    link = Link.objects.order_by("pk").first()

    assert boss_client.post(_url(Link, "add"), {}).status_code == 403
    assert boss_client.post(_url(Link, "change", link), {}).status_code == 403


def test_bulk_delete_of_too_many_bags_is_refused_before_collecting_them(warehouse, boss_client):
    response = boss_client.post(
        _url(Bag, "changelist"),
        {"action": "delete_selected", "select_across": "1", "index": "0", "_selected_action": "1"},
    )

    assert response.status_code == 200
    assert "Too many bags at once" in response.content.decode()


def test_product_change_forgets_the_cached_parent_formats(
    warehouse, boss_client, fresh_parent_formats, django_capture_on_commit_callbacks
):
    assert "UR" not in {fmt.prefix for fmt in Product.objects.parent_formats()}  # now cached

    with django_capture_on_commit_callbacks(execute=True):
        response = boss_client.post(
            _url(Product, "add"),
            {
                "code": "urad",
                "name": "Urad",
                "parent_prefix": "ur",
                "parent_digits": 6,
                "capacity": 25,
                "child_weight_kg": "2.000",
                "is_active": "on",
            },
        )

    assert response.status_code == 302
    assert "UR" in {fmt.prefix for fmt in Product.objects.parent_formats()}
    entry = AuditLog.objects.get(action=AuditAction.PRODUCT_CREATE)
    assert entry.after["child_weight_kg"] == "2.000"  # Decimal stored as text


def test_product_format_overlapping_another_is_refused(warehouse, boss_client, fresh_parent_formats):
    response = boss_client.post(
        _url(Product, "add"),
        {"code": "sb1", "name": "SB one", "parent_prefix": "SB1", "parent_digits": 4, "capacity": 30},
    )

    assert "would also match Mustard's parent format" in response.context["adminform"].form.errors["parent_prefix"][0]


def test_product_format_that_would_swallow_children_is_refused(warehouse, boss_client, fresh_parent_formats):
    response = boss_client.post(
        _url(Product, "add"),
        {"code": "c", "name": "C product", "parent_prefix": "C", "parent_digits": 7, "capacity": 30},
    )

    errors = response.context["adminform"].form.errors["parent_prefix"]
    assert errors == ["The child bag 'C0000001' already has a code in this format; it would become a parent code."]


def test_product_prefix_of_the_command_barcodes_is_refused(warehouse, boss_client, fresh_parent_formats):
    response = boss_client.post(
        _url(Product, "add"),
        {"code": "cmd", "name": "Commands", "parent_prefix": "tt-cmd-", "parent_digits": 4, "capacity": 30},
    )

    errors = response.context["adminform"].form.errors["parent_prefix"]
    assert errors == ["Codes starting TT-CMD- are command barcodes; choose another prefix."]
    assert not Product.objects.filter(code="cmd").exists()


def test_a_product_with_bags_cannot_be_deleted_and_its_bags_are_not_all_loaded(warehouse, boss_client):
    mustard = factories.product("mustard")

    with CaptureQueriesContext(connection) as queries:
        response = boss_client.get(_url(Product, "delete", mustard))

    assert response.status_code == 200
    protected = response.context["protected"]
    assert len(protected) == 11  # ten bags and "... and more"
    assert len(queries) <= MAX_QUERIES_PER_PAGE


def test_bill_change_page_lists_its_parents_in_one_query(warehouse, boss_client, django_assert_max_num_queries):
    bill = Bill.objects.get(bill_number="INV-100")

    with django_assert_max_num_queries(MAX_QUERIES_PER_PAGE):
        response = boss_client.get(_url(Bill, "change", bill))

    assert response.content.decode().count("SB000") >= PARENTS_ON_BILL
