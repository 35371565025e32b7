"""Weights as the bill pages and sheets print them (bills.weights.readable_kg: "30", "4.5"), in templates."""

from decimal import Decimal

from django import forms, template
from django.forms import BoundField

from bills.weights import readable_kg, signed_readable_kg

register = template.Library()


@register.filter
def kg(value: Decimal | None) -> str:
    return "" if value is None else readable_kg(value)


@register.filter
def signed_kg(value: Decimal | None) -> str:
    return "" if value is None else signed_readable_kg(value)


@register.filter
def bootstrap(field: BoundField) -> str:
    """A form field's widget with Bootstrap's class (and is-invalid when it has errors)."""
    widget = field.field.widget
    css = "form-select" if isinstance(widget, forms.Select) else "form-control"
    if field.errors:
        css += " is-invalid"
    return field.as_widget(attrs={"class": css})
