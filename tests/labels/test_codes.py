"""Which codes a label request means, and every way it is refused with a sentence and nothing printed."""

import pytest

from labels import codes
from labels.codes import MAX_LABELS, LabelRefused
from labels.error_codes import LabelRefusal
from tests.factories import MOONG, MUSTARD

FORMATS = (MUSTARD, MOONG)


def refusal(call, *arguments) -> LabelRefused:
    with pytest.raises(LabelRefused) as caught:
        call(*arguments, FORMATS)
    assert caught.value.status == 400
    return caught.value


def test_a_range_of_parent_codes_is_one_products_run():
    run = codes.from_range("sb00001", " SB00500 ", FORMATS)

    assert len(run.codes) == 500 and run.first == "SB00001" and run.last == "SB00500"
    assert (run.product_code, run.first_number, run.last_number) == ("mustard", 1, 500)


def test_a_range_with_a_dash_in_the_prefix_and_a_child_range():
    assert codes.from_range("M444-00009", "M444-00011", FORMATS).codes == ("M444-00009", "M444-00010", "M444-00011")
    child = codes.from_range("C0000098", "C0000101", FORMATS)
    assert child.codes == ("C0000098", "C0000099", "C0000100", "C0000101") and child.product_code is None


@pytest.mark.parametrize(
    ("first", "last", "code", "sentence"),
    [
        ("SB00500", "SB00001", LabelRefusal.BAD_RANGE, "The range runs backwards: SB00500 comes after SB00001."),
        ("SB00001", "M444-00500", LabelRefusal.BAD_RANGE, "SB00001 and M444-00500 are not one range"),
        ("SB0001", "SB00500", LabelRefusal.BAD_RANGE, "both must start the same way and have as many digits"),
        ("ABCD", "ABCE", LabelRefusal.BAD_RANGE, "two codes that end in digits"),
        ("SB00001", "SB 00500", LabelRefusal.BAD_CODE, "The last code: 'SB 00500' contains a space inside it"),
        ("M444-1", "M444-9", LabelRefusal.BAD_CODE, "'M444-1' looks like a Moong parent code"),
        ("", "SB00002", LabelRefusal.BAD_CODE, "The first code: No code was read."),
    ],
)
def test_a_bad_range_is_refused_in_words(first, last, code, sentence):
    refused = refusal(codes.from_range, first, last)

    assert refused.code == code and sentence in refused.message


def test_a_range_over_the_cap_is_refused_before_anything_is_made():
    refused = refusal(codes.from_range, "C0000001", "C9999999")

    assert refused.code == LabelRefusal.TOO_MANY
    assert refused.message == "That is 9,999,999 labels; at most 5,000 are made at once. Print them in parts."
    assert len(codes.from_range("C0000001", f"C{MAX_LABELS:07d}", FORMATS).codes) == MAX_LABELS


def test_a_pasted_list_keeps_its_order_and_cleans_codes_as_a_scan_does():
    run = codes.from_list("sb00007\n  M444-00001, CHILD0001;SB00002\r\n\n", FORMATS)

    assert run.codes == ("SB00007", "M444-00001", "CHILD0001", "SB00002") and run.product_code is None


def test_a_list_names_its_bad_codes_and_prints_none():
    refused = refusal(codes.from_list, "SB00001 AB M444-123 TT-CMD-DONE X!YZ1 ZZ")

    assert refused.code == LabelRefusal.BAD_CODE
    assert refused.message.startswith("5 codes cannot be printed: 'AB' is too short")
    assert "'M444-123' looks like a Moong parent code" in refused.message
    assert refused.message.endswith("And 2 more.")


def test_a_list_with_a_code_twice_is_refused():
    refused = refusal(codes.from_list, "SB00001 SB00002 sb00001 SB00002 SB00001")

    assert refused.code == LabelRefusal.DUPLICATE_CODE
    assert refused.message.startswith("These codes are in the list more than once: SB00001, SB00002.")


def test_an_empty_or_too_long_list_is_refused():
    assert refusal(codes.from_list, " \n ,").code == LabelRefusal.NO_CODES
    too_long = " ".join(f"C{number:07d}" for number in range(MAX_LABELS + 1))
    assert refusal(codes.from_list, too_long).code == LabelRefusal.TOO_MANY
