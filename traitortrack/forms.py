"""Form fields the apps' forms share, a sorted list's search form, and where a day they pick starts."""

from datetime import date, datetime, time
from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

# The days a date filter takes: every bag, bill and scan is this century's. Without a bound a range's ends
# overflow: the day after 9999-12-31 (the end of a "to" day) is no date, a 500.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
OUT_OF_RANGE = format_lazy(_("Pick a date between {first} and {last}."), first=FIRST_DAY, last=LAST_DAY)


class DayField(forms.DateField):
    """A day a filter starts or ends on, between FIRST_DAY and LAST_DAY (the date picker offers no other)."""

    widget = forms.DateInput(attrs={"type": "date", "min": FIRST_DAY, "max": LAST_DAY}, format="%Y-%m-%d")
    default_validators = [MinValueValidator(FIRST_DAY, OUT_OF_RANGE), MaxValueValidator(LAST_DAY, OUT_OF_RANGE)]


class ListSearchForm(forms.Form):
    """A sorted list's filters (the bill list, the return ticket list, and their APIs): words, a status, a
    range of days and the sort; a value that does not parse is ignored, never an error page. A list's form
    gives ``q`` its label, ``status`` and ``sort`` their choices (traitortrack.sorting.sort_choices) and
    names its DEFAULT_SORT; ``search_arguments`` are its queryset's ``search`` keywords."""

    DEFAULT_SORT = ""

    q = forms.CharField(required=False, max_length=200)
    status = forms.ChoiceField(required=False)
    date_from = DayField(required=False, label=_("From"))
    date_to = DayField(required=False, label=_("To"))
    sort = forms.ChoiceField(required=False)

    def search_arguments(self) -> dict[str, Any]:
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "text": data.get("q") or "",
            "status": data.get("status") or "",
            "date_from": data.get("date_from"),
            "date_to": data.get("date_to"),
            # Only a choice of ``sort`` is cleaned, so the sort is always one the list knows.
            "sort": data.get("sort") or self.DEFAULT_SORT,
        }


def local_day_start(day: date) -> datetime:
    """Midnight at the start of ``day`` in the warehouses' time zone (settings.TIME_ZONE), as an aware datetime:
    a bound an index on a timestamp column can use, unlike ``created_at::date``."""
    return timezone.make_aware(datetime.combine(day, time.min))
