"""Products: the one place a parent format, a capacity and a child weight are set."""

from decimal import Decimal

import pytest
from django.db import connection

from bags import qr
from bags.managers import forget_parent_formats
from bags.models import Bag, BagKind, Product
from tests.db import insert_bag, refused_by
from tests.factories import MOONG, MUSTARD

INSERT_PRODUCT = """
INSERT INTO bags_product (code, name, parent_prefix, parent_digits, capacity, child_weight_kg, is_active)
VALUES (%s, %s, %s, %s, %s, %s, true)
"""


@pytest.fixture
def fresh_formats(db):
    """The parent formats are cached across tests; each test here starts and ends without the cache."""
    forget_parent_formats()
    yield
    forget_parent_formats()


def insert_product(
    *, prefix: str = "XY", digits: int = 4, capacity: int = 30, child_weight_kg: Decimal = Decimal("1.000")
) -> None:
    with connection.cursor() as cursor:
        cursor.execute(INSERT_PRODUCT, ["extra", "Extra", prefix, digits, capacity, child_weight_kg])


# --- The products of the old system come from the data migration.


def test_database_gives_the_mustard_and_moong_formats(fresh_formats):
    assert Product.objects.parent_formats() == (MOONG, MUSTARD)


def test_full_mustard_parent_weighs_30_kg(mustard):
    assert mustard.full_parent_weight_kg == Decimal("30")


def test_full_moong_parent_weighs_15_kg(moong):
    assert moong.full_parent_weight_kg == Decimal("15")


def test_full_parent_weight_follows_capacity_and_child_weight():
    product = Product(capacity=20, child_weight_kg=Decimal("2.500"))

    assert product.full_parent_weight_kg == Decimal("50")


# --- A new product is added in one place: a Product row.


def test_new_product_makes_its_codes_parents(fresh_formats):
    Product.objects.parent_formats()  # as a running server would have them cached
    Product.objects.create(code="xy", name="XY seed", parent_prefix="XY", parent_digits=4)

    forget_parent_formats()
    formats = Product.objects.parent_formats()

    assert qr.classify("xy1234", formats) == qr.ParsedCode("XY1234", qr.PARENT, "xy")
    assert qr.parse_parent("XY1234", formats).product_code == "xy"
    with pytest.raises(qr.QRCodeError) as refusal:
        qr.parse_child("XY1234", formats)
    assert refusal.value.code == "parent_where_child_expected"
    with pytest.raises(qr.QRCodeError) as refusal:
        qr.parse_parent("XY12345", formats)
    assert refusal.value.code == "child_where_parent_expected"
    assert "exactly 4 digits" in refusal.value.message


def test_new_products_parent_code_is_accepted_by_database(fresh_formats):
    product = Product.objects.create(code="xy", name="XY seed", parent_prefix="XY", parent_digits=4)

    insert_bag("XY1234", BagKind.PARENT, product_id=product.pk)

    assert Bag.objects.get(qr_id="XY1234").product == product


def test_inactive_product_keeps_its_parent_format(fresh_formats):
    # A product taken out of use still owns its codes: M444-12345 must never become a child bag.
    Product.objects.filter(code="moong").update(is_active=False)

    forget_parent_formats()

    assert Product.objects.parent_formats() == (MOONG, MUSTARD)


# --- The database refuses a product that could not work.


@pytest.mark.parametrize("capacity", [0, 1001])
def test_capacity_outside_1_to_1000_is_refused_by_database(db, capacity):
    with refused_by("product_capacity_range", Product):
        insert_product(capacity=capacity)


@pytest.mark.parametrize("child_weight_kg", [Decimal("0"), Decimal("-1.000")])
def test_child_weight_not_above_zero_is_refused_by_database(db, child_weight_kg):
    with refused_by("product_child_weight_positive", Product):
        insert_product(child_weight_kg=child_weight_kg)


@pytest.mark.parametrize(
    "prefix",
    [
        pytest.param("xy", id="lower-case"),
        pytest.param("", id="empty"),
        pytest.param("1X", id="starts-with-digit"),
        pytest.param("-X", id="starts-with-dash"),
        pytest.param("X Y", id="space"),
        pytest.param("\u0425Y", id="cyrillic-look-alike"),
    ],
)
def test_bad_parent_prefix_is_refused_by_database(db, prefix):
    with refused_by("product_prefix_format", Product):
        insert_product(prefix=prefix)


@pytest.mark.parametrize("prefix", ["TT-CMD-", "TT-CMD-X"])
def test_parent_prefix_of_the_command_barcodes_is_refused_by_database(db, prefix):
    # Its parent codes (TT-CMD-1234) would start like a command barcode.
    with refused_by("product_prefix_not_command", Product):
        insert_product(prefix=prefix)


@pytest.mark.parametrize("digits", [0, 16])
def test_parent_digits_outside_1_to_15_is_refused_by_database(db, digits):
    with refused_by("product_digits_range", Product):
        insert_product(digits=digits)


def test_duplicate_parent_prefix_is_refused_by_database(db):
    with refused_by("bags_product_parent_prefix_key", Product):
        insert_product(prefix="SB")


def test_lowering_capacity_to_zero_is_refused_by_database(mustard):
    with refused_by("product_capacity_range"):
        Product.objects.filter(pk=mustard.pk).update(capacity=0)

    mustard.refresh_from_db()
    assert mustard.capacity == 30
