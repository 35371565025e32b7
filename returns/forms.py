"""Return ticket forms: a new ticket's details and the ticket list's search."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from returns.choices import ReturnStatus
from returns.managers import ReturnTicketQuerySet
from returns.models import ReturnTicket
from traitortrack.forms import ListSearchForm
from traitortrack.sorting import sort_choices


class ReturnTicketForm(forms.ModelForm):
    class Meta:
        model = ReturnTicket
        fields = ("source", "notes")
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}
        labels = {"source": _("Came back from (location or customer)"), "notes": _("Notes")}
        error_messages = {"source": {"required": _("Say where the bags came back from.")}}

    def clean_source(self) -> str:
        source = self.cleaned_data["source"].strip()
        if not source:
            raise ValidationError(_("Say where the bags came back from."), code="required")
        return source

    def service_arguments(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class ReturnTicketSearchForm(ListSearchForm):
    """The ticket list's filters."""

    DEFAULT_SORT = "-created_at"

    q = forms.CharField(required=False, max_length=200, label=_("Ticket number, source or parent code"))
    status = forms.ChoiceField(required=False, choices=[("", _("Any status")), *ReturnStatus.choices])
    sort = forms.ChoiceField(required=False, choices=sort_choices(ReturnTicketQuerySet.SORTS))
