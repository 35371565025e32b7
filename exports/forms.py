"""The export page's filters, one form per table (each table offers the filters its rows can be cut by)."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from accounts.models import DispatchArea
from bags.models import BagKind, Product
from bills.models import BillStatus
from exports.tables import TABLES, Table, in_date_range
from scanning.models import ScanAction

FORMATS = (("csv", "CSV"), ("xlsx", "Excel (.xlsx)"))
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class ExportForm(forms.Form):
    """The format and a date range (of the table's date field), both ends optional."""

    table: Table
    file_format = forms.ChoiceField(label="Format", choices=FORMATS, initial="csv")
    date_from = forms.DateField(label="From", required=False, widget=DATE_INPUT)
    date_to = forms.DateField(label="To", required=False, widget=DATE_INPUT)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-select" if isinstance(field.widget, forms.Select) else "form-control"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        first, last = cleaned.get("date_from"), cleaned.get("date_to")
        if first and last and first > last:
            raise ValidationError("The 'from' date is after the 'to' date.", code="bad_range")
        return cleaned

    def queryset(self) -> QuerySet:
        data = self.cleaned_data
        return self.narrow(in_date_range(self.table, self.table.queryset(), data["date_from"], data["date_to"]))

    def narrow(self, queryset: QuerySet) -> QuerySet:
        return queryset

    def filters(self) -> dict[str, Any]:
        """The filters chosen, for the audit entry."""
        return {
            name: str(getattr(value, "code", value))
            for name, value in self.cleaned_data.items()
            if name != "file_format" and value not in (None, "")
        }


def _choices(choices) -> list[tuple[str, str]]:
    return [("", "All"), *choices]


class BagExportForm(ExportForm):
    table = TABLES["bags"]
    kind = forms.ChoiceField(choices=_choices(BagKind.choices), required=False)
    product = forms.ModelChoiceField(Product.objects.order_by("name"), required=False, empty_label="All")
    area = forms.ModelChoiceField(DispatchArea.objects.all(), required=False, empty_label="All")

    def narrow(self, queryset: QuerySet) -> QuerySet:
        data = self.cleaned_data
        if data["kind"]:
            queryset = queryset.filter(kind=data["kind"])
        if data["product"]:
            queryset = queryset.filter(product=data["product"])
        if data["area"]:
            queryset = queryset.filter(dispatch_area=data["area"])
        return queryset


class LinkExportForm(ExportForm):
    table = TABLES["links"]
    product = forms.ModelChoiceField(Product.objects.order_by("name"), required=False, empty_label="All")
    area = forms.ModelChoiceField(DispatchArea.objects.all(), required=False, empty_label="All")

    def narrow(self, queryset: QuerySet) -> QuerySet:
        data = self.cleaned_data
        if data["product"]:
            queryset = queryset.filter(parent__product=data["product"])
        if data["area"]:
            queryset = queryset.filter(parent__dispatch_area=data["area"])
        return queryset


class ScanExportForm(ExportForm):
    table = TABLES["scans"]
    action = forms.ChoiceField(choices=_choices(ScanAction.choices), required=False)
    area = forms.ModelChoiceField(DispatchArea.objects.all(), required=False, empty_label="All")

    def narrow(self, queryset: QuerySet) -> QuerySet:
        data = self.cleaned_data
        if data["action"]:
            queryset = queryset.filter(action=data["action"])
        if data["area"]:
            queryset = queryset.filter(dispatch_area=data["area"])
        return queryset


class BillExportForm(ExportForm):
    table = TABLES["bills"]
    status = forms.ChoiceField(choices=_choices(BillStatus.choices), required=False)

    def narrow(self, queryset: QuerySet) -> QuerySet:
        if self.cleaned_data["status"]:
            queryset = queryset.filter(status=self.cleaned_data["status"])
        return queryset


class AuditExportForm(ExportForm):
    table = TABLES["audit"]
    action = forms.CharField(required=False, max_length=50, help_text="An action, e.g. bill.create (exact).")

    def narrow(self, queryset: QuerySet) -> QuerySet:
        if self.cleaned_data["action"]:
            queryset = queryset.filter(action=self.cleaned_data["action"].strip())
        return queryset


FORMS: dict[str, type[ExportForm]] = {
    form.table.name: form for form in (BagExportForm, LinkExportForm, ScanExportForm, BillExportForm, AuditExportForm)
}
