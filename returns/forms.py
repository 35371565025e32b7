"""Return ticket forms: a new ticket's details and the ticket list's search."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from returns.choices import ReturnStatus
from returns.managers import ReturnTicketQuerySet
from returns.models import ReturnTicket
from traitortrack.forms import DayField


class ReturnTicketForm(forms.ModelForm):
    class Meta:
        model = ReturnTicket
        fields = ("source", "notes")
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}
        labels = {"source": "Came back from (location or customer)"}
        error_messages = {"source": {"required": "Say where the bags came back from."}}

    def clean_source(self) -> str:
        source = self.cleaned_data["source"].strip()
        if not source:
            raise ValidationError("Say where the bags came back from.", code="required")
        return source

    def service_arguments(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class ReturnTicketSearchForm(forms.Form):
    """The ticket list's filters; a value that does not parse is ignored, never an error page."""

    SORT_CHOICES = [(key, key) for key in ReturnTicketQuerySet.SORTS] + [
        (f"-{key}", f"-{key}") for key in ReturnTicketQuerySet.SORTS
    ]

    q = forms.CharField(required=False, max_length=200, label="Ticket number, source or parent code")
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *ReturnStatus.choices])
    date_from = DayField(required=False, label="From")
    date_to = DayField(required=False, label="To")
    sort = forms.ChoiceField(required=False, choices=SORT_CHOICES)

    def search_arguments(self) -> dict[str, Any]:
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "text": data.get("q") or "",
            "status": data.get("status") or "",
            "date_from": data.get("date_from"),
            "date_to": data.get("date_to"),
            "sort": data.get("sort") or "-created_at",
        }
