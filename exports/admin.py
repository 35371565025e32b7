"""The admin's export button (django-import-export's page: pick CSV or Excel), writing through
traitortrack/spreadsheets.py: the changelist's filtered rows, streamed, formula-escaped and audited, never a tablib
Dataset of the whole table in memory."""

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from import_export import fields, resources
from import_export.admin import ExportMixin
from import_export.formats.base_formats import CSV, XLSX
from import_export.forms import ExportForm

from exports.tables import TABLES, ExportsBusy, Table, record_export


def _columns_resource(table: Table) -> type[resources.Resource]:
    """A resource naming the table's columns, for the export page's list of fields."""
    declared: dict[str, Any] = {lookup: fields.Field(column_name=header) for header, lookup in table.columns}
    declared["get_display_name"] = classmethod(lambda cls: table.title)
    return type(f"{table.name.title()}ExportColumns", (resources.Resource,), declared)


class TableExportMixin(ExportMixin):
    """Put before the ModelAdmin; ``export_table`` names the table in exports/tables.py."""

    export_table = ""
    export_form_class = ExportForm

    @property
    def table(self) -> Table:
        return TABLES[self.export_table]

    def get_export_formats(self) -> list:
        return [CSV, XLSX]

    def get_export_resource_classes(self, request: HttpRequest) -> list:
        return [_columns_resource(self.table)]

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.is_authenticated and request.user.is_admin

    def _do_file_export(self, file_format, request: HttpRequest, queryset, export_form=None) -> HttpResponse:
        extension = file_format.get_extension()
        try:
            response = self.table.response(queryset, extension)
        except ExportsBusy as busy:
            messages.error(request, busy.message)
            return redirect(request.get_full_path())
        # The changelist's filters and search, as the admin put them in the export page's address.
        filters = {key: value for key, value in request.GET.items() if key not in ("o", "p")}
        record_export(user=request.user, table=self.table, file_format=extension, filters=filters, request=request)
        return response
