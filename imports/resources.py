"""The admin's bulk import through django-import-export: its two steps (a dry run showing the report, then
confirm), with the work done by the same services as the commands (imports/bag_import.py, imports/bill_import.py).

django-import-export would read the file into a tablib Dataset and import it row by row through the ORM;
80,000 rows that way take minutes and skip our checks. Here its format hands the uploaded bytes through
untouched, and the resource's ``import_data`` calls the service once, set-based, and turns its report into
the Result the admin's pages show. The import is audited by the service (bulk writes send no signals).
"""

from datetime import timedelta
from io import BytesIO
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.storage import storages
from django.http import HttpRequest
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from import_export import fields, resources
from import_export.admin import ImportMixin
from import_export.formats.base_formats import Format
from import_export.forms import ConfirmImportForm, ImportForm
from import_export.results import Error, Result, RowResult

from imports.bag_import import BAG_COLUMNS, LINK_COLUMNS, OPTIONAL_COLUMNS, import_bags
from imports.files import ImportReport
from traitortrack.errors import Refused

# Where django-import-export's MediaStorage keeps an upload between the dry run and the confirm, in the
# import_export storage (IMPORT_UPLOAD_DIR), and how long an unconfirmed one is kept.
UPLOAD_FOLDER = "django-import-export"
UPLOAD_KEPT = timedelta(days=1)
# Rows named in the message when the confirm finds bad rows the dry run did not (the rest are counted).
CONFIRM_LISTED = 5
UPLOAD_GONE = (
    "This upload is no longer kept: it was imported already, or it waited more than a day for its "
    "confirmation. Upload the file again."
)


def forget_stale_uploads() -> int:
    """Delete the uploads older than UPLOAD_KEPT, whose dry run was never confirmed; how many."""
    storage = storages["import_export"]
    try:
        _, names = storage.listdir(UPLOAD_FOLDER)
    except FileNotFoundError:
        return 0
    oldest = timezone.now() - UPLOAD_KEPT
    forgotten = 0
    for name in names:
        path = f"{UPLOAD_FOLDER}/{name}"
        try:
            if storage.get_modified_time(path) < oldest:
                storage.delete(path)
                forgotten += 1
        except FileNotFoundError:  # another request's confirm took it meanwhile
            continue
    return forgotten


class Upload:
    """The uploaded file's bytes, as the dataset django-import-export passes from its format to the resource."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)


class CsvOrExcel(Format):
    """One import format for both kinds of file: the service tells them apart (by name and by content)."""

    def __init__(self, encoding: str | None = None) -> None:
        self.encoding = encoding

    def get_title(self) -> str:
        return "CSV or Excel (.csv, .xlsx)"

    def create_dataset(self, in_stream: bytes) -> Upload:
        return Upload(in_stream if isinstance(in_stream, bytes) else in_stream.encode())

    def can_import(self) -> bool:
        return True


class ReportResult(Result):
    """A Result carrying the service's report, for the import page's template."""

    def __init__(self, report: ImportReport | None = None, refusal: Refused | None = None) -> None:
        super().__init__()
        self.report = report
        self.refusal = refusal


class ServiceImportResource(resources.Resource):
    """A resource whose import is one call to an import service (``run``), never a row at a time."""

    # The columns the import page lists (the layouts are explained beside them).
    columns: tuple[str, ...] = ()

    def get_user_visible_fields(self) -> list[fields.Field]:
        return [fields.Field(column_name=name) for name in self.columns]

    def run(self, *, source, file_name: str, user, dry_run: bool, options: dict[str, Any]) -> ImportReport:
        raise NotImplementedError

    def import_data(self, dataset: Upload, dry_run: bool = False, raise_errors: bool = False, **kwargs) -> Result:
        options = {name: kwargs[name] for name in ("skip_invalid", "default_area", "request") if name in kwargs}
        try:
            report = self.run(
                source=BytesIO(dataset.data),
                file_name=kwargs.get("file_name") or "",
                user=kwargs["user"],
                dry_run=dry_run,
                options=options,
            )
        except Refused as refusal:
            result = ReportResult(refusal=refusal)
            result.append_base_error(Error(refusal))
            return result
        result = ReportResult(report)
        result.totals[RowResult.IMPORT_TYPE_NEW] = sum(report.created.values())
        result.totals[RowResult.IMPORT_TYPE_SKIP] = report.present_count
        result.totals[RowResult.IMPORT_TYPE_INVALID] = report.error_count
        if report.error_count and not report.skip_invalid:
            # Invalid rows are what stops the admin from offering "Confirm import".
            result.diff_headers = ["code"]
            for issue in report.errors:
                result.append_invalid_row(issue.row, {"code": issue.code}, ValidationError(issue.message))
        return result


class BagImportResource(ServiceImportResource):
    """Bags and links: the layouts of imports/bag_import.py."""

    columns = (*LINK_COLUMNS, *BAG_COLUMNS, *OPTIONAL_COLUMNS)

    def run(self, *, source, file_name: str, user, dry_run: bool, options: dict[str, Any]) -> ImportReport:
        return import_bags(source=source, file_name=file_name, user=user, dry_run=dry_run, **options)

    @classmethod
    def get_display_name(cls) -> str:
        return "Bags and links"


class BulkImportForm(ImportForm):
    """The import page's form: the file (at most IMPORT_MAX_UPLOAD_MB) and whether to import only the good rows."""

    skip_invalid = forms.BooleanField(
        label="Import only the good rows", required=False, help_text="Otherwise any bad row and nothing is written."
    )

    def clean_import_file(self):
        upload = self.cleaned_data["import_file"]
        limit = settings.IMPORT_MAX_UPLOAD_MB
        if upload.size > limit * 1024 * 1024:
            raise ValidationError(
                f"The file is larger than {limit} MB; import it with manage.py on the server.", code="too_big"
            )
        return upload


class BulkConfirmForm(ConfirmImportForm):
    skip_invalid = forms.BooleanField(required=False, widget=forms.HiddenInput)


class BulkImportMixin(ImportMixin):
    """django-import-export's two-step import (dry run with the report, then confirm) over one import
    service call (the resource's ``run``): the same checks and writes as the manage.py command."""

    import_template_name = "admin/bulk_import.html"
    import_form_class = BulkImportForm
    confirm_form_class = BulkConfirmForm
    # The form fields passed on from the upload to the confirm step and into the service.
    import_options: tuple[str, ...] = ("skip_invalid",)

    # One sentence on the file's columns, shown above the form.
    import_layouts = ""

    def get_import_formats(self) -> list:
        return [CsvOrExcel]

    def get_import_context_data(self, **kwargs) -> dict:
        return {**super().get_import_context_data(**kwargs), "import_layouts": self.import_layouts}

    def has_import_permission(self, request: HttpRequest) -> bool:
        return request.user.is_authenticated and request.user.is_admin

    def get_confirm_form_initial(self, request: HttpRequest, import_form) -> dict:
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial |= {name: import_form.cleaned_data.get(name) for name in self.import_options}
        return initial

    def get_import_data_kwargs(self, request: HttpRequest, *args, form=None, **kwargs) -> dict:
        kwargs = super().get_import_data_kwargs(request=request, form=form, **kwargs)
        kwargs.pop("request", None)
        options = {name: form.cleaned_data.get(name) for name in self.import_options} if form is not None else {}
        return {**kwargs, **self.service_options(options), "request": request}

    def service_options(self, options: dict) -> dict:
        return {"skip_invalid": bool(options.get("skip_invalid"))}

    def write_to_tmp_storage(self, import_file, input_format):
        # Each new upload clears the abandoned ones (a dry run never confirmed), so the folder cannot fill up.
        forget_stale_uploads()
        # The library adds the chunks up one by one (quadratic for a big upload).
        storage = self.get_tmp_storage_class()(read_mode="rb", **self.get_tmp_storage_class_kwargs())
        storage.save(b"".join(import_file.chunks()))
        return storage

    def import_action(self, request: HttpRequest, **kwargs):
        response = super().import_action(request, **kwargs)
        # The library keeps every upload for a confirm; one that cannot be confirmed (a refused file, bad
        # rows) is dropped at once.
        context = getattr(response, "context_data", None) or {}
        form = context.get("form")
        upload = form.cleaned_data.get("import_file") if getattr(form, "cleaned_data", None) else None
        name = getattr(upload, "tmp_storage_name", None)
        if name and "confirm_form" not in context:
            self.get_tmp_storage_class()(name=name, **self.get_tmp_storage_class_kwargs()).remove()
        return response

    def process_import(self, request: HttpRequest, **kwargs):
        try:
            return super().process_import(request, **kwargs)
        except FileNotFoundError:  # the stored upload: confirmed twice, or forgotten (forget_stale_uploads)
            messages.error(request, UPLOAD_GONE)
            return redirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_import"))

    def process_result(self, result, request: HttpRequest):
        report = getattr(result, "report", None)
        if report is not None and report.written:
            messages.success(request, f"{report.summary()} {report.outcome()}")
        elif report is not None:
            # Rows gone bad since the dry run (a child scanned into another parent meanwhile): say which.
            listed = [f"Row {issue.row}: {issue.message}" for issue in report.errors[:CONFIRM_LISTED]]
            messages.error(request, " ".join([*listed, report.summary(), report.outcome()]))
        else:
            messages.error(request, result.refusal.message)
        return redirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"))
