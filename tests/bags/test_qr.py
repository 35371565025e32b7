"""The QR rules on a table of good and bad codes, with the parent formats both as plain tuples (no database)
and as the Product table gives them (the two products of migration 0003)."""

import pytest
from django.db import connection

from bags import qr
from bags.managers import forget_parent_formats
from bags.models import BagKind, Product
from tests.db import insert_bag
from tests.factories import MOONG, MUSTARD

# In the order the Product table gives them (by product code).
PLAIN_FORMATS = (MOONG, MUSTARD)


# The mark (not a getfixturevalue("db") alone) tells pytest-django these tests use the database, so
# they run before the transactional tests, which leave the data migration's products flushed.
@pytest.fixture(params=["plain", pytest.param("database", marks=pytest.mark.django_db)])
def formats(request):
    """Each rule is checked against hand-written formats and against the formats the database holds."""
    if request.param == "plain":
        yield PLAIN_FORMATS
        return
    # The formats are cached across tests: start and end with the database's own answer.
    forget_parent_formats()
    yield Product.objects.parent_formats()
    forget_parent_formats()


def assert_plain_sentence(message: str) -> None:
    """What a dispatcher reads on a phone: one short sentence, never an echo of a runaway scan."""
    assert isinstance(message, str)
    assert message
    assert message == message.strip()
    assert message[0].isupper() or message[0] == "'"
    assert message.endswith(".")
    assert len(message) < 200


# --- Good codes: cleaned up and classified.

GOOD_PARENTS = [
    pytest.param("SB12345", "SB12345", "mustard", id="mustard"),
    pytest.param("sb12345", "SB12345", "mustard", id="mustard-lower-case"),
    pytest.param("SB00000", "SB00000", "mustard", id="mustard-all-zeros"),
    pytest.param(" \tSB99999 ", "SB99999", "mustard", id="mustard-surrounding-white-space"),
    pytest.param("M444-12345", "M444-12345", "moong", id="moong"),
    pytest.param("  M444-12345\n", "M444-12345", "moong", id="moong-surrounding-white-space"),
    pytest.param("m444-00001", "M444-00001", "moong", id="moong-lower-case"),
]

GOOD_CHILDREN = [
    pytest.param("ABCD", "ABCD", id="four-characters"),
    pytest.param("a1b2c3", "A1B2C3", id="lower-case"),
    pytest.param("12345678", "12345678", id="digits-only"),
    pytest.param("C1234567890123456789", "C1234567890123456789", id="twenty-characters"),
    pytest.param("\r\n abcd1234 \r\n", "ABCD1234", id="surrounding-white-space"),
    # Not a parent format (six digits), and letters and digits: a child by the rules.
    pytest.param("SB123456", "SB123456", id="mustard-prefix-six-digits"),
]


@pytest.mark.parametrize(("raw", "qr_id", "product_code"), GOOD_PARENTS)
def test_parent_code_is_cleaned_up_and_classified_as_parent(formats, raw, qr_id, product_code):
    expected = qr.ParsedCode(qr_id, qr.PARENT, product_code)

    assert qr.classify(raw, formats) == expected
    assert qr.parse_parent(raw, formats) == expected


@pytest.mark.parametrize(("raw", "qr_id"), GOOD_CHILDREN)
def test_child_code_is_cleaned_up_and_classified_as_child(formats, raw, qr_id):
    expected = qr.ParsedCode(qr_id, qr.CHILD)

    assert qr.classify(raw, formats) == expected
    assert qr.parse_child(raw, formats) == expected


@pytest.mark.parametrize(("raw", "qr_id", "product_code"), GOOD_PARENTS)
def test_every_parent_code_the_rules_accept_is_accepted_by_database(db, raw, qr_id, product_code):
    # Otherwise a good scan would end in a database error (a 500) instead of a bag.
    parsed = qr.parse_parent(raw, PLAIN_FORMATS)

    insert_bag(parsed.qr_id, BagKind.PARENT, product_id=Product.objects.get(code=parsed.product_code).pk)


@pytest.mark.parametrize(("raw", "qr_id"), GOOD_CHILDREN)
def test_every_child_code_the_rules_accept_is_accepted_by_database(db, raw, qr_id):
    parsed = qr.parse_child(raw, PLAIN_FORMATS)

    insert_bag(parsed.qr_id, BagKind.CHILD)


# --- Bad codes: a stable error code and a sentence a dispatcher can act on.

BAD_CODES = [
    # Nothing read.
    pytest.param("classify", "", "empty", (), id="empty"),
    pytest.param("classify", None, "empty", (), id="none"),
    pytest.param("classify", "   ", "empty", (), id="only-spaces"),
    pytest.param("classify", "\t\r\n", "empty", (), id="only-white-space"),
    pytest.param("parse_parent", "", "empty", (), id="empty-where-parent-expected"),
    pytest.param("parse_child", None, "empty", (), id="none-where-child-expected"),
    # Length.
    pytest.param("classify", "A" * 10_000, "too_long", ("10000 characters",), id="ten-thousand-characters"),
    pytest.param("parse_child", "A" * 10_000, "too_long", (), id="ten-thousand-characters-where-child-expected"),
    pytest.param("classify", "A" * 21, "too_long", ("at most 20",), id="twenty-one-characters"),
    pytest.param("classify", "ABC", "too_short", ("'ABC'", "at least 4"), id="three-characters"),
    pytest.param("classify", " ab ", "too_short", ("'AB'",), id="two-characters-lower-case"),
    # Nearly a parent.
    pytest.param("classify", "M444-1234", "bad_parent_format", ("Moong", "exactly 5 digits"), id="moong-4-digits"),
    pytest.param("classify", "M444-123456", "bad_parent_format", ("M444-12345",), id="moong-6-digits"),
    pytest.param("classify", "sb-12345", "bad_parent_format", ("Mustard",), id="mustard-with-dash"),
    pytest.param("classify", "M444_12345", "bad_characters", ("'_'",), id="moong-underscore"),
    pytest.param(
        "parse_parent",
        "SB1234",
        "child_where_parent_expected",
        ("Mustard", "exactly 5 digits", "SB12345"),
        id="mustard-5-digits-short",
    ),
    pytest.param(
        "parse_parent",
        "sb123456",
        "child_where_parent_expected",
        ("Mustard", "exactly 5 digits"),
        id="mustard-6-digits",
    ),
    pytest.param("parse_parent", "M444-1234", "bad_parent_format", ("Moong",), id="moong-4-digits-where-parent"),
    # Look-alikes: right on the label, wrong in the computer.
    pytest.param("classify", "\u0421\u041212345", "bad_characters", ("Cyrillic",), id="cyrillic-look-alike"),
    pytest.param("classify", "\u0391BCD1234", "bad_characters", ("Greek",), id="greek-alpha"),
    pytest.param("classify", "SB\uff11\uff12\uff13\uff14\uff15", "bad_characters", ("Fullwidth",), id="full-width"),
    pytest.param("classify", "SB12\u200b345", "bad_characters", ("Zero Width Space",), id="zero-width-space"),
    # Hostile input.
    pytest.param("classify", "SB12345'; DROP TABLE bags_bag;--", "too_long", (), id="sql-injection"),
    pytest.param("classify", "1' OR '1'='1", "bad_characters", (), id="sql-injection-short"),
    pytest.param("classify", "<script>alert(1)</script>", "too_long", (), id="html-script"),
    pytest.param("classify", "<b>AB</b>", "bad_characters", (), id="html-short"),
    # White space and control characters inside.
    pytest.param("classify", "SB12\t345", "bad_characters", (), id="tab-inside"),
    pytest.param("classify", "SB12\n345", "bad_characters", (), id="newline-inside"),
    pytest.param("classify", "AB CD", "bad_characters", ("space",), id="space-inside"),
    pytest.param("classify", "AB\x00CD", "bad_characters", ("control character",), id="nul-inside"),
    # Dashes.
    pytest.param("classify", "-ABC", "bad_format", ("letter or digit",), id="leading-dash"),
    pytest.param("classify", "-SB12345", "bad_format", (), id="leading-dash-before-parent"),
    pytest.param("classify", "AB-CD", "bad_format", ("no dashes",), id="child-with-dash"),
    # The wrong kind for the step.
    pytest.param(
        "parse_child", "SB12345", "parent_where_child_expected", ("'SB12345'", "parent"), id="parent-where-child"
    ),
    pytest.param(
        "parse_child", " m444-12345 ", "parent_where_child_expected", ("'M444-12345'",), id="moong-where-child"
    ),
    pytest.param(
        "parse_parent",
        "abcd1234",
        "child_where_parent_expected",
        ("'ABCD1234'", "child", "SB12345", "M444-12345"),
        id="child-where-parent",
    ),
    # Command barcodes (bags.qr.Command): never a bag, wherever they are read.
    *(
        pytest.param(function, raw, "command_code", ("command barcode",), id=f"command-{raw}-{function}")
        for function in ("classify", "parse_parent", "parse_child")
        for raw in ("TT-CMD-DONE", " tt-cmd-new-parent ")
    ),
]


@pytest.mark.parametrize(("function", "raw", "code", "fragments"), BAD_CODES)
def test_bad_code_is_refused_with_a_code_and_a_plain_sentence(formats, function, raw, code, fragments):
    with pytest.raises(qr.QRCodeError) as refusal:
        getattr(qr, function)(raw, formats)

    assert refusal.value.code == code
    message = refusal.value.message
    assert_plain_sentence(message)
    assert str(refusal.value) == message
    for fragment in fragments:
        assert fragment in message
    if raw and len(raw) > qr.MAX_LENGTH:
        assert raw not in message


def test_ten_thousand_character_scan_is_not_echoed(formats):
    with pytest.raises(qr.QRCodeError) as refusal:
        qr.classify("A" * 10_000, formats)

    assert refusal.value.code == "too_long"
    assert len(refusal.value.message) < 200


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("SB12\t345", id="tab"),
        pytest.param("SB12\n345", id="newline"),
        pytest.param("SB12\u200b345", id="zero-width-space"),
        pytest.param("AB\x00CD", id="nul"),
        pytest.param("AB\u202eDC", id="right-to-left-override"),
    ],
)
def test_refusal_message_never_echoes_invisible_characters(raw):
    # An echoed newline breaks the one-line answer, a right-to-left override reorders the sentence on screen,
    # and PostgreSQL refuses to store a NUL if the answer is ever logged.
    with pytest.raises(qr.QRCodeError) as refusal:
        qr.classify(raw, PLAIN_FORMATS)

    assert refusal.value.code == "bad_characters"
    assert refusal.value.message.isprintable(), repr(refusal.value.message)


def test_formats_given_as_a_one_shot_iterator_still_give_the_parent_hint():
    # The rules take any iterable of formats; a generator must not lose the "looks like a Moong parent" hint.
    with pytest.raises(qr.QRCodeError) as refusal:
        qr.classify("M444-1234", iter(PLAIN_FORMATS))

    assert refusal.value.code == "bad_parent_format"


def test_no_products_means_every_code_is_a_child_or_refused():
    assert qr.classify("SB12345", ()) == qr.ParsedCode("SB12345", qr.CHILD)
    with pytest.raises(qr.QRCodeError) as refusal:
        qr.parse_parent("SB12345", ())

    assert refusal.value.code == "child_where_parent_expected"
    assert "no products are set up" in refusal.value.message


# --- The rules module and the database hold the same patterns.


def test_python_and_database_patterns_are_the_same(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conname IN ('bag_qr_id_format', 'bag_child_qr_id_format')"
        )
        checks = dict(cursor.fetchall())

    assert f"'{qr.ANY_CODE_SQL_REGEX}'" in checks["bag_qr_id_format"]
    assert f"'{qr.CHILD_SQL_REGEX}'" in checks["bag_child_qr_id_format"]
    assert (qr.ANY_CODE_PATTERN.pattern, qr.CHILD_PATTERN.pattern) == (qr.ANY_CODE_SQL_REGEX, qr.CHILD_SQL_REGEX)


def test_parent_format_example_fits_its_own_pattern():
    assert (MUSTARD.example, MOONG.example) == ("SB12345", "M444-12345")
    assert MUSTARD.pattern.fullmatch(MUSTARD.example)
    assert MOONG.pattern.fullmatch(MOONG.example)


def test_parent_format_prefix_is_matched_literally():
    # A prefix with regex characters in it must not widen the format.
    dotted = qr.ParentFormat("dotted", "Dotted", "A.", 3)

    assert dotted.pattern.fullmatch("A.123")
    assert not dotted.pattern.fullmatch("AX123")


@pytest.mark.parametrize("command", list(qr.Command))
def test_every_command_barcode_is_refused_as_a_bag_code(command):
    with pytest.raises(qr.QRCodeError) as refusal:
        qr.normalise(command.value.lower())

    assert refusal.value.code == "command_code"
    assert refusal.value.message == f"'{command.value}' is a command barcode, not a bag code. Scan the bag's own label."
