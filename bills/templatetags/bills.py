"""Weights as the bill pages print them (bills.weights.kg_text), in templates."""

from decimal import Decimal

from django import forms, template
from django.forms import BoundField

from bills.weights import kg_text, signed_kg_text

register = template.Library()


@register.filter
def kg(value: Decimal | None) -> str:
    return "" if value is None else kg_text(value)


@register.filter
def signed_kg(value: Decimal | None) -> str:
    return "" if value is None else signed_kg_text(value)


@register.filter
def bootstrap(field: BoundField) -> str:
    """A form field's widget with Bootstrap's class (and is-invalid when it has errors)."""
    widget = field.field.widget
    css = "form-select" if isinstance(widget, forms.Select) else "form-control"
    if field.errors:
        css += " is-invalid"
    return field.as_widget(attrs={"class": css})
