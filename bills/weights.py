"""Bill weights: computed from child counts, never typed.

A full parent's weight is ``Product.full_parent_weight_kg`` (the one place that rule lives); these are the
two other sums a bill needs. Decimal throughout: kilograms with three decimals add up exactly.
"""

from decimal import Decimal

KG = Decimal("0.001")


def parent_weight_kg(child_count: int, child_weight_kg: Decimal) -> Decimal:
    """A parent's actual weight: its children times its product's child weight."""
    return (child_count * child_weight_kg).quantize(KG)


def expected_weight_kg(expected_parents: int, full_parent_weight_kg: Decimal) -> Decimal:
    """A bill's expected weight: the parents it expects, each full, of the bill's product."""
    return (expected_parents * full_parent_weight_kg).quantize(KG)


def kg_text(value: Decimal) -> str:
    """Kilograms as data (the API): three decimals, exact ("30.000"). Exports keep the Decimal itself."""
    return f"{value:.3f}"


def readable_kg(value: Decimal) -> str:
    """Kilograms as pages and printed sheets show them to a person: no trailing zeros ("30", "4.5",
    "0.25"), still exact to the gram; static/js/bill_scan.js writes the API's numbers the same way."""
    if value == 0:
        return "0"  # not "-0", nor "0E-3"
    return f"{value.quantize(KG).normalize():f}"


def signed_readable_kg(value: Decimal) -> str:
    """A difference with its sign ("+3", "-27.5", "0")."""
    return f"+{readable_kg(value)}" if value > 0 else readable_kg(value)
