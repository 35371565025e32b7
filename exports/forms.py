"""The export page's filters, one form per table (each table offers the filters its rows can be cut by)."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.models import DispatchArea
from audit.choices import AuditAction
from bags.models import BagKind, Product
from bills.models import BillStatus
from exports.tables import TABLES, Table, in_date_range
from scanning.models import ScanAction
from traitortrack.forms import DayField

FORMATS = (("csv", "CSV"), ("xlsx", "Excel (.xlsx)"))


class ExportForm(forms.Form):
    """The format and a date range (of the table's date field), both ends optional."""

    table: Table
    file_format = forms.ChoiceField(label=_("Format"), choices=FORMATS, initial="csv")
    date_from = DayField(label=_("From"), required=False)
    date_to = DayField(label=_("To"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-select" if isinstance(field.widget, forms.Select) else "form-control"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        first, last = cleaned.get("date_from"), cleaned.get("date_to")
        if first and last and first > last:
            raise ValidationError(_("The 'from' date is after the 'to' date."), code="bad_range")
        return cleaned

    # Each filter field and the lookup it narrows the rows by.
    lookups: dict[str, str] = {}

    def queryset(self) -> QuerySet:
        data = self.cleaned_data
        queryset = in_date_range(self.table, self.table.queryset(), data["date_from"], data["date_to"])
        chosen = {lookup: data[name] for name, lookup in self.lookups.items() if data[name] not in (None, "")}
        return queryset.filter(**chosen)

    def filters(self) -> dict[str, Any]:
        """The filters chosen, for the audit entry."""
        return {
            name: str(getattr(value, "code", value))
            for name, value in self.cleaned_data.items()
            if name != "file_format" and value not in (None, "")
        }


def _choices(choices) -> list[tuple[str, str]]:
    return [("", _("All")), *choices]


class BagExportForm(ExportForm):
    table = TABLES["bags"]
    lookups = {"kind": "kind", "product": "product", "area": "dispatch_area"}
    kind = forms.ChoiceField(choices=_choices(BagKind.choices), required=False, label=_("Kind"))
    product = forms.ModelChoiceField(
        Product.objects.order_by("name"), required=False, empty_label=_("All"), label=_("Product")
    )
    area = forms.ModelChoiceField(DispatchArea.objects.all(), required=False, empty_label=_("All"), label=_("Area"))


class LinkExportForm(ExportForm):
    table = TABLES["links"]
    lookups = {"product": "parent__product", "area": "parent__dispatch_area"}
    product = forms.ModelChoiceField(
        Product.objects.order_by("name"), required=False, empty_label=_("All"), label=_("Product")
    )
    area = forms.ModelChoiceField(DispatchArea.objects.all(), required=False, empty_label=_("All"), label=_("Area"))


class ScanExportForm(ExportForm):
    table = TABLES["scans"]
    lookups = {"action": "action", "area": "dispatch_area"}
    action = forms.ChoiceField(choices=_choices(ScanAction.choices), required=False, label=_("Action"))
    area = forms.ModelChoiceField(DispatchArea.objects.all(), required=False, empty_label=_("All"), label=_("Area"))


class BillExportForm(ExportForm):
    table = TABLES["bills"]
    lookups = {"status": "status"}
    status = forms.ChoiceField(choices=_choices(BillStatus.choices), required=False, label=_("Status"))


class AuditExportForm(ExportForm):
    table = TABLES["audit"]
    lookups = {"action": "action"}
    action = forms.ChoiceField(choices=_choices(AuditAction.choices), required=False, label=_("Action"))


FORMS: dict[str, type[ExportForm]] = {
    form.table.name: form for form in (BagExportForm, LinkExportForm, ScanExportForm, BillExportForm, AuditExportForm)
}
