"""Weights as people read them on pages and printed sheets, exact to the gram, while the API and the exports
keep their three decimals."""

from decimal import Decimal

import pytest

from bills.weights import kg_text, readable_kg, signed_readable_kg


@pytest.mark.parametrize(
    ("kg", "text"),
    [
        ("4.000", "4"),
        ("4.500", "4.5"),
        ("0.250", "0.25"),
        ("30.000", "30"),
        ("1500.000", "1500"),  # not "1.5E+3"
        ("0.000", "0"),
        ("-0.000", "0"),
        ("-43.500", "-43.5"),
        ("0.001", "0.001"),
    ],
)
def test_a_weight_reads_without_trailing_zeros(kg, text):
    assert readable_kg(Decimal(kg)) == text


def test_a_difference_carries_its_sign():
    assert [signed_readable_kg(Decimal(kg)) for kg in ("3.000", "-27.500", "0.000")] == ["+3", "-27.5", "0"]


def test_the_api_keeps_three_decimals():
    assert kg_text(Decimal("4.5")) == "4.500"
