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
    """Kilograms as pages, manifests and the API show them: three decimals, exact ("30.000")."""
    return f"{value:.3f}"


def signed_kg_text(value: Decimal) -> str:
    """A difference with its sign ("+3.000", "-27.000"); static/js/bill_scan.js writes it the same way."""
    return f"+{value:.3f}" if value > 0 else f"{value:.3f}"
