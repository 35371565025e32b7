"""The admin's export button for the big tables (bags, links, scans, audit log): a page to pick CSV or
Excel, then the changelist's rows, its filters and search applied, written by exports/tables.py
(streamed, formula-escaped, audited, at most EXPORT_MAX_RUNNING at once).

The button is attached here to the lower apps' admins (traitortrack/admin_extend.py), which cannot import
this app. The bills' admin export is django-import-export's (bills/resources.py): a few thousand rows.
"""

from django import forms
from django.contrib import messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path

from audit.models import AuditLog
from bags.models import Bag, Link
from exports.tables import TABLES, ExportsBusy, Table, record_export
from scanning.models import Scan
from traitortrack.admin_extend import ChangelistTool, ChangelistToolsMixin, extend_admin

# The values the form posts for each file format.
FORMATS = {"0": "csv", "1": "xlsx"}
# The changelist's own parameters that are not filters: the page shown, the sort order, a popup's.
NOT_FILTERS = ("p", "o", "_to_field", "_popup")
BAD_FILTERS = "These filters do not apply to this list any more. Go back to the list, filter it again and export."


class TableExportForm(forms.Form):
    format = forms.ChoiceField(
        label="File format", choices=[("0", "CSV (.csv)"), ("1", "Excel (.xlsx)")], widget=forms.RadioSelect
    )


class TableExportMixin(ChangelistToolsMixin):
    """Put before the ModelAdmin; ``export_table`` names the table in exports/tables.py."""

    export_table = ""

    @property
    def table(self) -> Table:
        return TABLES[self.export_table]

    def get_urls(self) -> list:
        name = f"{self.opts.app_label}_{self.opts.model_name}_export"
        return [path("export/", self.admin_site.admin_view(self.export_view), name=name), *super().get_urls()]

    def changelist_tools(self, request: HttpRequest) -> list[ChangelistTool]:
        tool = ChangelistTool(f"admin:{self.opts.app_label}_{self.opts.model_name}_export", "Export", True)
        return [*super().changelist_tools(request), tool]

    def export_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        # The export is of every page of the list, in the table's own order.
        request.GET = request.GET.copy()
        for name in ("p", "o"):
            request.GET.pop(name, None)
        try:
            queryset = self.get_changelist_instance(request).get_queryset(request)
        except IncorrectLookupParameters:
            messages.error(request, BAD_FILTERS)
            return redirect(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
        form = TableExportForm(request.POST if request.method == "POST" else None, initial={"format": "0"})
        if form.is_valid():
            extension = FORMATS[form.cleaned_data["format"]]
            try:
                response = self.table.response(queryset, extension)
            except ExportsBusy as busy:
                messages.error(request, busy.message)
                return redirect(request.get_full_path())
            filters = {key: value for key, value in request.GET.items() if key not in NOT_FILTERS}
            record_export(user=request.user, table=self.table, file_format=extension, filters=filters, request=request)
            return response
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Export {self.opts.verbose_name_plural}",
            "form": form,
            "columns": self.table.header,
            "filters": {key: value for key, value in request.GET.items() if key not in NOT_FILTERS},
        }
        return TemplateResponse(request, "admin/table_export.html", context)


for model, table in ((Bag, "bags"), (Link, "links"), (Scan, "scans"), (AuditLog, "audit")):
    extend_admin(model, TableExportMixin, export_table=table)
