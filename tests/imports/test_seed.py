"""seed_bulk and seed_demo against the real database: counts, the bag rules, repeat runs, refusals."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Exists, F, OuterRef
from django.http import HttpRequest

from accounts.models import Role, User
from audit.choices import AuditAction
from audit.models import AuditLog
from bags import qr
from bags.models import Bag, BagKind, Link, Product
from bills.models import Bill, BillBag, BillStatus
from imports.management.commands.seed_bulk import Command as SeedBulkCommand
from imports.seeding import CHILD_PREFIX
from scanning.models import Scan, ScanAction
from tests import factories

# Parents whose stored child_count or capacity disagrees with their links, or marked complete (the seeder marks
# none: a full parent is complete by its count): must be none.
BAD_PARENTS_SQL = """
SELECT count(*)
FROM bags_bag p
JOIN bags_product pr ON pr.id = p.product_id
LEFT JOIN (SELECT parent_id, count(*) AS n FROM bags_link GROUP BY parent_id) l ON l.parent_id = p.id
WHERE p.kind = 'parent'
  AND (p.child_count <> COALESCE(l.n, 0)
       OR COALESCE(l.n, 0) > pr.capacity
       OR p.completed_at IS NOT NULL)
"""
# Links whose ends are the wrong kind (the database refuses these; checked here all the same).
BAD_LINKS_SQL = """
SELECT count(*)
FROM bags_link k JOIN bags_bag p ON p.id = k.parent_id JOIN bags_bag c ON c.id = k.child_id
WHERE p.kind <> 'parent' OR c.kind <> 'child'
"""


def seed_bulk(*args: str) -> str:
    out = StringIO()
    call_command("seed_bulk", *args, stdout=out, verbosity=0)
    return out.getvalue()


def scalar(query: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(query)
        return cursor.fetchone()[0]


def active_formats() -> tuple[qr.ParentFormat, ...]:
    # Straight from the table, not the cached Product.objects.parent_formats(): some tests change products.
    return tuple(product.parent_format for product in Product.objects.filter(is_active=True))


def counts() -> tuple[int, int, int]:
    return (
        Bag.objects.filter(kind=BagKind.PARENT).count(),
        Bag.objects.filter(kind=BagKind.CHILD).count(),
        Link.objects.count(),
    )


# --- seed_bulk ---------------------------------------------------------------------------------------------


def test_seed_bulk_help_explains_the_options():
    help_text = SeedBulkCommand().create_parser("manage.py", "seed_bulk").format_help()

    assert "default 3% of --bags" in help_text
    assert "--linked-fraction" in help_text


@pytest.mark.django_db
def test_seed_bulk_adds_exactly_the_bags_and_links_asked_for():
    output = seed_bulk("--bags", "5000", "--parents", "200", "--linked-fraction", "0.5", "--seed", "3")

    assert counts() == (200, 4800, 2400)
    assert "Added 5,000 bags: 200 parents" in output
    assert "rows/s" in output


@pytest.mark.django_db
def test_seed_bulk_defaults_to_3_percent_parents_and_90_percent_of_children_linked():
    seed_bulk("--bags", "5000")

    assert counts() == (150, 4850, 4365)


@pytest.mark.django_db
def test_seeded_parents_hold_their_links_within_capacity_and_full_ones_are_complete():
    seed_bulk("--bags", "5000", "--seed", "7")

    assert scalar(BAD_PARENTS_SQL) == 0
    assert scalar(BAD_LINKS_SQL) == 0
    parents = Bag.objects.filter(kind=BagKind.PARENT).with_completion()
    assert parents.filter(complete=True).exists()  # most are full...
    assert parents.filter(complete=False).exists()  # ...but not all


@pytest.mark.django_db
def test_every_seeded_code_classifies_as_its_kind_and_product():
    seed_bulk("--bags", "5000")

    formats = active_formats()
    products = dict(Product.objects.values_list("id", "code"))
    for qr_id, kind, product_id in Bag.objects.values_list("qr_id", "kind", "product_id"):
        parsed = qr.classify(qr_id, formats)
        assert (parsed.qr_id, parsed.kind, parsed.product_code) == (qr_id, kind, products.get(product_id))


@pytest.mark.django_db
def test_seeded_parents_are_spread_over_the_products():
    seed_bulk("--bags", "5000", "--parents", "301")

    per_product = sorted(Bag.objects.filter(kind=BagKind.PARENT).values_list("product__code", flat=True))
    assert per_product.count("mustard") + per_product.count("moong") == 301
    assert abs(per_product.count("mustard") - per_product.count("moong")) <= 1


@pytest.mark.django_db
def test_second_run_adds_another_batch_after_the_first():
    seed_bulk("--bags", "3000")
    first_codes = set(Bag.objects.values_list("qr_id", flat=True))

    seed_bulk("--bags", "3000")

    assert counts() == (180, 5820, 5238)
    assert Bag.objects.count() == len(set(Bag.objects.values_list("qr_id", flat=True))) == 6000
    assert first_codes < set(Bag.objects.values_list("qr_id", flat=True))
    assert scalar(BAD_PARENTS_SQL) == 0


@pytest.mark.django_db
def test_seed_bulk_steps_around_codes_already_in_use():
    factories.make_parent("SB00000")
    factories.make_parent("M444-00001", product_code="moong")
    factories.make_child(f"{CHILD_PREFIX}0000000042")
    factories.make_child("CB12")  # another shape entirely: cannot collide, does not move the numbering

    seed_bulk("--bags", "1000", "--parents", "40")

    assert counts() == (42, 962, round(960 * 0.9))
    new_children = Bag.objects.filter(kind=BagKind.CHILD).exclude(qr_id__in=["CB0000000042", "CB12"])
    assert min(new_children.values_list("qr_id", flat=True)) == "CB0000000043"


@pytest.mark.django_db
def test_same_seed_gives_the_same_fill_levels():
    seed_bulk("--bags", "2000", "--seed", "11")
    first = list(Bag.objects.filter(kind=BagKind.PARENT).order_by("id").values_list("child_count", flat=True))
    seed_bulk("--bags", "2000", "--seed", "11")
    both = list(Bag.objects.filter(kind=BagKind.PARENT).order_by("id").values_list("child_count", flat=True))

    assert both[len(first) :] == first
    assert len(set(first)) > 1  # not simply every parent full


@pytest.mark.django_db
def test_seed_bulk_with_scans_records_an_open_and_a_link_scan_per_parent_and_link():
    dispatcher = factories.make_user("loader", role=Role.DISPATCHER)

    seed_bulk("--bags", "1000", "--with-scans", "--user", "loader")

    assert Scan.objects.filter(action=ScanAction.OPEN_PARENT).count() == 30
    assert Scan.objects.filter(action=ScanAction.LINK).count() == Link.objects.count() == 873
    link_scan = Scan.objects.filter(action=ScanAction.LINK, bag=OuterRef("child"), parent=OuterRef("parent"))
    assert not Link.objects.filter(~Exists(link_scan)).exists()
    assert set(Scan.objects.values_list("user", "dispatch_area")) == {(dispatcher.pk, dispatcher.dispatch_area_id)}
    assert not Bag.objects.exclude(dispatch_area=dispatcher.dispatch_area).exists()
    assert not Scan.objects.exclude(bag_qr=F("bag__qr_id")).exists()
    assert not Scan.objects.exclude(parent_qr=F("parent__qr_id")).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bags", "0"], "--bags must be at least 1"),
        (["--bags", "-5"], "--bags must be at least 1"),
        (["--bags", "100", "--parents", "101"], "cannot be more than --bags"),
        (["--bags", "100", "--parents", "-1"], "cannot be negative"),
        (["--bags", "100", "--linked-fraction", "1.5"], "between 0 and 1"),
        (["--bags", "100", "--parents", "1", "--linked-fraction", "1"], "do not fit"),
        (["--bags", "100", "--with-scans"], "need a user"),
        (["--bags", "100", "--user", "nobody-by-this-name"], "No user named"),
        (["--bags", "100", "--area", "no-such-area"], "No dispatch area"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(args, message):
    seed_bulk("--bags", "100")
    before = counts()

    with pytest.raises(CommandError, match=message):
        seed_bulk(*args)

    assert counts() == before


@pytest.mark.django_db
def test_more_parents_than_free_parent_codes_is_refused():
    Product.objects.update(is_active=False)
    Product.objects.create(code="tiny", name="Tiny", parent_prefix="ZTX", parent_digits=1, capacity=5)

    with pytest.raises(CommandError, match="do not fit in the free parent codes"):
        seed_bulk("--bags", "100", "--parents", "11")
    assert Bag.objects.count() == 0

    seed_bulk("--bags", "100", "--parents", "10", "--linked-fraction", "0.5")
    assert sorted(Bag.objects.filter(kind=BagKind.PARENT).values_list("qr_id", flat=True)) == [
        f"ZTX{n}" for n in range(10)
    ]


@pytest.mark.django_db
def test_a_product_whose_parent_codes_are_too_short_for_a_bag_is_refused():
    Product.objects.create(code="short", name="Short", parent_prefix="Z", parent_digits=2)

    with pytest.raises(CommandError, match="would be 3 characters long"):
        seed_bulk("--bags", "100")
    assert Bag.objects.count() == 0


@pytest.mark.django_db
def test_used_up_child_codes_are_refused():
    factories.make_child(f"{CHILD_PREFIX}9999999999")

    with pytest.raises(CommandError, match="synthetic child codes"):
        seed_bulk("--bags", "100")
    assert Bag.objects.count() == 1


@pytest.mark.django_db
def test_a_product_whose_parents_look_like_synthetic_children_is_refused():
    Product.objects.create(code="clash", name="Clash", parent_prefix=CHILD_PREFIX, parent_digits=10)

    with pytest.raises(CommandError, match="would match product Clash"):
        seed_bulk("--bags", "100")
    assert Bag.objects.count() == 0


# --- seed_demo ---------------------------------------------------------------------------------------------


def seed_demo() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def printed_passwords(output: str) -> dict[str, str]:
    passwords = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] in Role.values:
            passwords[parts[1]] = parts[2]
    return passwords


@pytest.mark.django_db
def test_seed_demo_creates_one_user_per_role_whose_printed_password_logs_in(client, verified_login):
    output = seed_demo()

    passwords = printed_passwords(output)
    assert set(passwords) == {"admin", "biller", "dispatcher"}
    assert dict(User.objects.values_list("username", "role")) == {
        "admin": Role.ADMIN,
        "biller": Role.BILLER,
        "dispatcher": Role.DISPATCHER,
    }
    for username, password in passwords.items():
        # django-axes needs the request (it locks by username and IP), which client.login() leaves out.
        assert client.login(request=HttpRequest(), username=username, password=password), username
        client.logout()
    admin = User.objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser
    assert client.login(request=HttpRequest(), username="admin", password=passwords["admin"])
    # The demo admin has no authenticator app yet: they enrol at first login.
    assert client.get("/admin/")["Location"].startswith("/accounts/2fa/setup/")
    verified_login(client, admin)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/bags/bag/").status_code == 200
    assert User.objects.get(username="dispatcher").dispatch_area.name == "Main warehouse"
    assert "http://127.0.0.1:8000/" in output
    assert "/admin/" in output


@pytest.mark.django_db
def test_seed_demo_audits_the_users_it_creates_without_their_password_hash():
    seed_demo()

    entries = AuditLog.objects.filter(action=AuditAction.USER_CREATE)
    assert sorted(entries.values_list("object_repr", flat=True)) == ["admin", "biller", "dispatcher"]
    assert all("password" not in entry.after and entry.after["role"] for entry in entries)


@pytest.mark.django_db
def test_seed_bulk_is_audited_with_its_counts():
    seed_bulk("--bags", "1000", "--parents", "40")

    entry = AuditLog.objects.get(action=AuditAction.BAG_BULK_LOAD)
    assert entry.after["children"] == 960
    assert sum(entry.after["parents_by_product"].values()) == 40
    assert entry.after["links"] == Link.objects.count()


@pytest.mark.django_db
def test_seed_demo_passwords_differ_and_are_long():
    passwords = printed_passwords(seed_demo())

    assert len(set(passwords.values())) == 3
    assert all(len(password) >= 16 for password in passwords.values())


@pytest.mark.django_db
def test_seed_demo_adds_linked_bags_with_their_scans_and_a_draft_bill():
    seed_demo()

    parents = Bag.objects.filter(kind=BagKind.PARENT)
    assert sorted(parents.values_list("qr_id", "product__code")) == [("M444-90001", "moong"), ("SB90001", "mustard")]
    assert Bag.objects.filter(kind=BagKind.CHILD).count() == Link.objects.count() == 10
    assert scalar(BAD_PARENTS_SQL) == 0
    assert Scan.objects.filter(action=ScanAction.LINK).count() == 10
    assert Scan.objects.filter(action=ScanAction.OPEN_PARENT).count() == 2
    assert not Scan.objects.filter(bag_qr="").exists()
    assert not Scan.objects.filter(parent_qr="").exists()
    bill = Bill.objects.get()
    assert bill.status == BillStatus.DRAFT
    assert set(BillBag.objects.values_list("parent_bag__qr_id", flat=True)) == {"SB90001", "M444-90001"}
    formats = active_formats()
    for qr_id, kind in Bag.objects.values_list("qr_id", "kind"):
        assert qr.classify(qr_id, formats).kind == kind


@pytest.mark.django_db
def test_seed_demo_second_run_changes_nothing_and_prints_no_password():
    first = seed_demo()
    hashes = dict(User.objects.values_list("username", "password"))
    before = (Bag.objects.count(), Link.objects.count(), Scan.objects.count(), Bill.objects.count())

    second = seed_demo()

    assert dict(User.objects.values_list("username", "password")) == hashes
    assert (Bag.objects.count(), Link.objects.count(), Scan.objects.count(), Bill.objects.count()) == before
    assert printed_passwords(second) == {}
    assert not any(password in second for password in printed_passwords(first).values())
    assert "already exists" in second
    assert "manage.py changepassword" in second


@pytest.mark.django_db
def test_seed_demo_leaves_an_existing_user_alone_and_creates_the_missing_ones():
    factories.make_user("admin", role=Role.ADMIN)

    output = seed_demo()

    assert set(printed_passwords(output)) == {"biller", "dispatcher"}
    assert "'admin' (admin) already exists" in output
    assert User.objects.get(username="admin").check_password(factories.PASSWORD)
