"""Form fields the apps' forms share, and where a day they pick starts."""

from datetime import date, datetime, time

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone

# The days a date filter takes: every bag, bill and scan is this century's. Without a bound a range's ends
# overflow: the day after 9999-12-31 (the end of a "to" day) is no date, a 500.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
OUT_OF_RANGE = f"Pick a date between {FIRST_DAY} and {LAST_DAY}."


class DayField(forms.DateField):
    """A day a filter starts or ends on, between FIRST_DAY and LAST_DAY (the date picker offers no other)."""

    widget = forms.DateInput(attrs={"type": "date", "min": FIRST_DAY, "max": LAST_DAY}, format="%Y-%m-%d")
    default_validators = [MinValueValidator(FIRST_DAY, OUT_OF_RANGE), MaxValueValidator(LAST_DAY, OUT_OF_RANGE)]


def local_day_start(day: date) -> datetime:
    """Midnight at the start of ``day`` in the warehouses' time zone (settings.TIME_ZONE), as an aware datetime:
    a bound an index on a timestamp column can use, unlike ``created_at::date``."""
    return timezone.make_aware(datetime.combine(day, time.min))
