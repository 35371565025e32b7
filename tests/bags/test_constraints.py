"""The database itself holds the bag rules: these tests go around the ORM (raw SQL, bulk_create, update)
and check that PostgreSQL refuses the write by the intended constraint and that nothing was written."""

import pytest
from django.db import DataError, connection, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from bags import qr
from bags.models import Bag, BagKind, Link
from tests import factories
from tests.db import MISSING_BAG_ID, delete_bag, insert_bag, insert_link, refused_by

# The constant kind columns forged, which the ORM never writes.
INSERT_LINK_WITH_KINDS = """
INSERT INTO bags_link (parent_id, child_id, parent_kind, child_kind, created_at)
VALUES (%s, %s, %s, %s, now())
"""

# --- The raw writes themselves are sound: valid rows go in, so every refusal below is the rule's doing.


def test_valid_parent_child_and_link_are_accepted_by_raw_sql(mustard):
    parent_id = insert_bag("SB12345", BagKind.PARENT, product_id=mustard.pk)
    child_id = insert_bag("ABCD1234", BagKind.CHILD)
    link_id = insert_link(parent_id, child_id)

    link = Link.objects.get(pk=link_id)
    assert (link.parent.qr_id, link.child.qr_id) == ("SB12345", "ABCD1234")
    assert (link.parent_kind, link.child_kind) == (BagKind.PARENT, BagKind.CHILD)


# --- qr_id: unique, upper-case, trimmed, one format.


def test_duplicate_parent_qr_id_is_refused_by_database(mustard):
    insert_bag("SB12345", BagKind.PARENT, product_id=mustard.pk)

    with refused_by("bags_bag_qr_id_key", Bag):
        insert_bag("SB12345", BagKind.PARENT, product_id=mustard.pk)


def test_duplicate_child_qr_id_is_refused_by_database(db):
    factories.make_child("ABCD1234")

    with refused_by("bags_bag_qr_id_key", Bag):
        Bag.objects.bulk_create([Bag(qr_id="ABCD1234", kind=BagKind.CHILD)])


def test_child_with_an_existing_parent_code_is_refused_by_database(mustard):
    # One qr_id across all bags: a code cannot be both a parent and a child.
    factories.make_parent("SB12345")

    with refused_by("bags_bag_qr_id_key", Bag):
        insert_bag("SB12345", BagKind.CHILD)


def test_lower_case_duplicate_qr_id_is_refused_by_database(mustard):
    # Only the upper-case spelling can be stored, so 'sb12345' can never sit beside 'SB12345'.
    factories.make_parent("SB12345")

    with refused_by("bag_qr_id_format", Bag):
        insert_bag("sb12345", BagKind.PARENT, product_id=mustard.pk)

    assert list(Bag.objects.filter(qr_id__iexact="sb12345").values_list("qr_id", flat=True)) == ["SB12345"]


# PostgreSQL checks a row's CHECK constraints in name order, so a child meets its own format rule first.
@pytest.mark.parametrize(
    ("kind", "constraint"),
    [(BagKind.PARENT, "bag_qr_id_format"), (BagKind.CHILD, "bag_child_qr_id_format")],
)
def test_lower_case_qr_id_is_refused_by_database(mustard, kind, constraint):
    with refused_by(constraint, Bag):
        insert_bag("sb12345", kind, product_id=mustard.pk if kind == BagKind.PARENT else None)


@pytest.mark.parametrize(
    "qr_id",
    [
        pytest.param(" SB12345", id="leading-space"),
        pytest.param("SB12345 ", id="trailing-space"),
        pytest.param("SB12345\n", id="trailing-newline"),
        pytest.param("\tSB12345", id="leading-tab"),
        pytest.param("SB12 345", id="space-inside"),
        pytest.param("", id="empty"),
        pytest.param("ABC", id="three-characters"),
        pytest.param("-SB12345", id="leading-dash"),
        pytest.param("\u0421\u041212345", id="cyrillic-look-alike"),
        pytest.param("SB\uff11\uff12\uff13\uff14\uff15", id="full-width-digits"),
        pytest.param("SB12\u200b345", id="zero-width-space"),
        pytest.param("SB12345';--", id="sql-quote"),
        pytest.param("<b>SB1</b>", id="html"),
    ],
)
def test_malformed_qr_id_is_refused_by_database(mustard, qr_id):
    with refused_by("bag_qr_id_format", Bag):
        insert_bag(qr_id, BagKind.PARENT, product_id=mustard.pk)


def test_qr_id_longer_than_twenty_characters_is_refused_by_database(db):
    with pytest.raises(DataError), transaction.atomic():
        insert_bag("A" * 21, BagKind.CHILD)

    assert not Bag.objects.exists()


def test_child_qr_id_with_a_dash_is_refused_by_database(db):
    # 'AB-CD12' passes the any-code format; only the child rule refuses it.
    with refused_by("bag_child_qr_id_format", Bag):
        insert_bag("AB-CD12", BagKind.CHILD)


def test_unknown_bag_kind_is_refused_by_database(db):
    with refused_by("bag_kind_valid", Bag):
        insert_bag("ABCD1234", "box")


@pytest.mark.parametrize("command", [command.value for command in qr.Command] + ["TT-CMD-12345"])
def test_command_barcode_as_a_bag_code_is_refused_by_database(mustard, command):
    # As a parent (the child rule refuses dashes already): a command is never a bag, whatever the products say.
    with refused_by("bag_qr_id_not_command", Bag):
        insert_bag(command, BagKind.PARENT, product_id=mustard.pk)


def test_parent_without_product_is_refused_by_database(db):
    with refused_by("bag_parent_has_product", Bag):
        insert_bag("SB12345", BagKind.PARENT)


@pytest.mark.parametrize("qr_id", ["M444-12345", "SB1234", "ABCD1234", "SB123456"])
def test_parent_code_not_in_its_products_format_is_refused_by_database(mustard, qr_id):
    with refused_by("bag_parent_code_matches_product", Bag):
        insert_bag(qr_id, BagKind.PARENT, product_id=mustard.pk)


def test_moving_a_parent_to_a_product_of_another_format_is_refused_by_database(mustard, moong):
    parent = factories.make_parent("SB12345")

    with refused_by("bag_parent_code_matches_product"):
        Bag.objects.filter(pk=parent.pk).update(product=moong)

    parent.refresh_from_db()
    assert parent.product_id == mustard.pk


def test_parent_codes_of_both_products_are_accepted_by_raw_sql(mustard, moong):
    insert_bag("SB00001", BagKind.PARENT, product_id=mustard.pk)
    insert_bag("M444-00001", BagKind.PARENT, product_id=moong.pk)
    assert Bag.objects.filter(kind=BagKind.PARENT).count() == 2


@pytest.mark.parametrize(
    ("qr_id", "kind", "new_kind"), [("SB12345", "parent", "child"), ("ABCD1234", "child", "parent")]
)
def test_an_unlinked_bag_never_changes_kind(mustard, qr_id, kind, new_kind):
    # A code is a parent or a child for life, even before it is linked to anything.
    bag_id = insert_bag(qr_id, kind, product_id=mustard.pk if kind == BagKind.PARENT else None)

    with refused_by("bag_kind_is_for_life"):
        Bag.objects.filter(pk=bag_id).update(kind=new_kind, product=mustard)

    assert Bag.objects.get(pk=bag_id).kind == kind


def test_a_bag_made_holding_children_is_refused_by_database(db):
    # A new bag holds nothing: its count comes from links written after it (bags/migrations/0013_*).
    with refused_by("bag_child_count_from_links", Bag):
        insert_bag("ABCD1234", BagKind.CHILD, child_count=1)
    with refused_by("bag_child_count_from_links", Bag):
        insert_bag("SB12345", BagKind.PARENT, product_id=factories.product().pk, child_count=3)


def test_completed_child_is_refused_by_database(db):
    with refused_by("bag_child_holds_nothing", Bag):
        insert_bag("ABCD1234", BagKind.CHILD, completed_at=timezone.now())


def test_writing_a_child_count_is_refused_by_database(db):
    child = factories.make_child("ABCD1234")
    parent = factories.make_parent("SB12345")
    factories.link(parent, child)

    with refused_by("bag_child_count_from_links"):
        Bag.objects.filter(pk=child.pk).update(child_count=5)
    with refused_by("bag_child_count_from_links"):
        Bag.objects.filter(pk=parent.pk).update(child_count=0)

    assert Bag.objects.get(pk=child.pk).child_count == 0
    assert Bag.objects.get(pk=parent.pk).child_count == 1


def test_a_save_that_leaves_the_count_as_it_is_goes_through(db):
    parent = factories.make_parent("SB12345")
    factories.link(parent, factories.make_child())
    parent.refresh_from_db()

    parent.completed_at = timezone.now()
    parent.save()

    assert Bag.objects.get(pk=parent.pk).child_count == 1


# --- Links: a child in at most one parent, parents and children never swap places.


def test_child_in_two_parents_is_refused_by_database(mustard):
    first, second = factories.make_parent(), factories.make_parent()
    child = factories.make_child()
    factories.link(first, child)

    with refused_by("bags_link_child_id_key", Link):
        insert_link(second.pk, child.pk)

    assert Link.objects.get(child=child).parent == first


def test_child_in_two_parents_by_bulk_create_is_refused_by_database(mustard):
    first, second = factories.make_parent(), factories.make_parent()
    child = factories.make_child()

    with refused_by("bags_link_child_id_key", Link):
        Link.objects.bulk_create([Link(parent=first, child=child), Link(parent=second, child=child)])


def test_child_used_as_a_parent_is_refused_by_database(db):
    would_be_parent, child = factories.make_child(), factories.make_child()

    with refused_by("link_parent_is_parent_bag", Link):
        insert_link(would_be_parent.pk, child.pk)


def test_parent_used_as_a_child_is_refused_by_database(mustard):
    parent, would_be_child = factories.make_parent(), factories.make_parent()

    with refused_by("link_child_is_child_bag", Link):
        insert_link(parent.pk, would_be_child.pk)


def test_parent_linked_into_itself_is_refused_by_database(mustard):
    parent = factories.make_parent()

    with refused_by("link_child_is_child_bag", Link):
        insert_link(parent.pk, parent.pk)


def test_forged_parent_kind_on_a_link_is_refused_by_database(db):
    # Writing 'child' into parent_kind would make the composite key match a child bag; the check stops it.
    would_be_parent, child = factories.make_child(), factories.make_child()

    with refused_by("link_parent_kind_is_parent", Link), connection.cursor() as cursor:
        cursor.execute(INSERT_LINK_WITH_KINDS, [would_be_parent.pk, child.pk, BagKind.CHILD, BagKind.CHILD])


def test_forged_child_kind_on_a_link_is_refused_by_database(mustard):
    parent, would_be_child = factories.make_parent(), factories.make_parent()

    with refused_by("link_child_kind_is_child", Link), connection.cursor() as cursor:
        cursor.execute(INSERT_LINK_WITH_KINDS, [parent.pk, would_be_child.pk, BagKind.PARENT, BagKind.PARENT])


def test_link_to_a_missing_parent_is_refused_by_database(db):
    child = factories.make_child()

    with refused_by("link_parent_is_parent_bag", Link):
        insert_link(MISSING_BAG_ID, child.pk)


def test_link_to_a_missing_child_is_refused_by_database(mustard):
    parent = factories.make_parent()

    with refused_by("link_child_is_child_bag", Link):
        insert_link(parent.pk, MISSING_BAG_ID)


def test_moving_a_link_to_a_child_is_refused_by_database(mustard):
    parent, child, other_child = factories.make_parent(), factories.make_child(), factories.make_child()
    created = factories.link(parent, child)

    with refused_by("link_parent_is_parent_bag"):
        Link.objects.filter(pk=created.pk).update(parent=other_child)

    created.refresh_from_db()
    assert created.parent_id == parent.pk


def test_turning_a_linked_child_into_a_parent_is_refused_by_database(mustard):
    parent, child = factories.make_parent(), factories.make_child("ABCD1234")
    factories.link(parent, child)

    with refused_by("link_child_is_child_bag"):
        Bag.objects.filter(pk=child.pk).update(kind=BagKind.PARENT, product=mustard)

    child.refresh_from_db()
    assert child.kind == BagKind.CHILD


def test_turning_a_parent_with_children_into_a_child_is_refused_by_database(mustard):
    # The link left uncounted (its trigger off in this test's transaction, which rolls back), so that only the
    # link, not the child's own rules (a child holds nothing), stands in the way.
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE bags_link DISABLE TRIGGER bags_link_counts_insert")
    parent, child = factories.make_parent("SB12345"), factories.make_child()
    factories.link(parent, child)

    with refused_by("link_parent_is_parent_bag"):
        Bag.objects.filter(pk=parent.pk).update(kind=BagKind.CHILD)

    parent.refresh_from_db()
    assert (parent.kind, parent.child_count) == (BagKind.PARENT, 0)


# --- Deletion: a parent holding children stays until they are unlinked.


def test_deleting_a_parent_with_children_is_refused_by_the_orm(mustard):
    parent, child = factories.make_parent(), factories.make_child()
    factories.link(parent, child)

    with pytest.raises(ProtectedError):
        parent.delete()

    assert Bag.objects.filter(pk=parent.pk).exists()
    assert Link.objects.filter(parent=parent, child=child).exists()


def test_deleting_a_parent_with_children_is_refused_by_database(mustard):
    parent, child = factories.make_parent(), factories.make_child()
    factories.link(parent, child)

    with refused_by("link_parent_is_parent_bag", Bag, Link):
        delete_bag(parent.pk)

    assert Link.objects.filter(parent=parent, child=child).exists()


def test_deleting_a_linked_child_by_raw_sql_is_refused_by_database(mustard):
    # The ORM deletes the link first (cascade, audited by the services); a bare DELETE may not orphan it.
    parent, child = factories.make_parent(), factories.make_child()
    factories.link(parent, child)

    with refused_by("link_child_is_child_bag", Bag, Link):
        delete_bag(child.pk)


def test_deleting_an_empty_parent_is_allowed(mustard):
    parent = factories.make_parent()

    delete_bag(parent.pk)

    assert not Bag.objects.filter(pk=parent.pk).exists()


@pytest.mark.parametrize("qr_id", ["SB12345", "SB00000"])
def test_child_with_a_parent_code_is_refused_by_database(mustard, qr_id):
    with refused_by("bag_parent_code_not_for_children", Bag):
        insert_bag(qr_id, BagKind.CHILD)


def test_child_codes_near_a_parent_format_are_accepted_by_raw_sql(mustard):
    # The child rule allows these (a prefix with the wrong number of digits); only exact formats are parents'.
    for qr_id in ("SB1234", "SB123456", "XSB12345"):
        insert_bag(qr_id, BagKind.CHILD)

    assert Bag.objects.filter(kind=BagKind.CHILD).count() == 3
