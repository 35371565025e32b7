"""The admin's bulk import of bags and links, and of bills with their parents: a plain admin view over the
import services (imports/bag_import.py import_bags, imports/bill_import.py import_bills), so the admin
checks and writes exactly as the manage.py commands do, set-based, audited by the service.

Two steps. The upload is kept in the import_export storage (IMPORT_UPLOAD_DIR, shared by the app servers)
and dry-run: every check and write, rolled back, its report shown. The confirm imports that kept upload.
An upload that cannot be confirmed (a refused file, bad rows) is deleted at once, a confirmed one after
its import, an unconfirmed one after a day (by the next upload). The import page is attached to bags' and
bills' admins here (traitortrack/admin_extend.py): they may not import this app.
"""

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import Storage, storages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from accounts.models import DispatchArea
from bags.models import Bag
from bills.models import Bill
from imports.bag_import import BAG_COLUMNS, LINK_COLUMNS, import_bags
from imports.bag_import import OPTIONAL_COLUMNS as BAG_OPTIONAL_COLUMNS
from imports.bill_import import OPTIONAL_COLUMNS as BILL_OPTIONAL_COLUMNS
from imports.bill_import import REQUIRED_COLUMNS as BILL_COLUMNS
from imports.bill_import import import_bills
from imports.files import ImportReport
from traitortrack.admin_extend import ChangelistTool, ChangelistToolsMixin, extend_admin
from traitortrack.errors import Refused

# Where an upload waits between the dry run and the confirm, inside the import_export storage.
UPLOAD_FOLDER = "bulk-import"
UPLOAD_KEPT = timedelta(days=1)
# Rows named in the message when the confirm finds bad rows the dry run did not (the rest are counted).
CONFIRM_LISTED = 5
UPLOAD_GONE = (
    "This upload is no longer kept: it was imported already, or it waited more than a day for its "
    "confirmation. Upload the file again."
)
NOT_A_CONFIRMATION = "This confirmation was not made by the import page. Upload the file again."


def upload_storage() -> Storage:
    return storages["import_export"]


def forget_stale_uploads() -> int:
    """Delete the uploads older than UPLOAD_KEPT, whose dry run was never confirmed; how many."""
    storage = upload_storage()
    try:
        _, names = storage.listdir(UPLOAD_FOLDER)
    except FileNotFoundError:
        return 0
    oldest = timezone.now() - UPLOAD_KEPT
    forgotten = 0
    for name in names:
        kept = f"{UPLOAD_FOLDER}/{name}"
        try:
            if storage.get_modified_time(kept) < oldest:
                storage.delete(kept)
                forgotten += 1
        except FileNotFoundError:  # another request's confirm took it meanwhile
            continue
    return forgotten


def _kept_path(key: str) -> str:
    return f"{UPLOAD_FOLDER}/{key}"


class BulkImportForm(forms.Form):
    """The upload (at most IMPORT_MAX_UPLOAD_MB) and whether to import only the good rows."""

    import_file = forms.FileField(label="File to import")
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


class BulkConfirmForm(forms.Form):
    """The confirm step: which kept upload, under the name it was uploaded with, with the upload's options."""

    upload = forms.RegexField(r"\A[0-9a-f]{32}\Z", widget=forms.HiddenInput)
    file_name = forms.CharField(max_length=255, widget=forms.HiddenInput)
    skip_invalid = forms.BooleanField(required=False, widget=forms.HiddenInput)


class BagImportForm(BulkImportForm):
    area = forms.ModelChoiceField(
        DispatchArea.objects.filter(is_active=True),
        required=False,
        label="Dispatch area",
        help_text="For new bags whose row names no area.",
    )


class BagConfirmForm(BulkConfirmForm):
    area = forms.ModelChoiceField(DispatchArea.objects.all(), required=False, widget=forms.HiddenInput)


class BulkImportMixin(ChangelistToolsMixin):
    """An "Import" button and its two pages (``import/``, ``process_import/``) over one import service."""

    import_service: Callable[..., ImportReport]
    import_form_class: type[BulkImportForm] = BulkImportForm
    confirm_form_class: type[BulkConfirmForm] = BulkConfirmForm
    import_columns: tuple[str, ...] = ()
    # One sentence on the file's columns, shown above the form.
    import_layouts = ""

    def _url_name(self, step: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{step}"

    def get_urls(self) -> list:
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name=self._url_name("import")),
            path(
                "process_import/",
                self.admin_site.admin_view(self.process_import_view),
                name=self._url_name("process_import"),
            ),
            *super().get_urls(),
        ]

    def changelist_tools(self, request: HttpRequest) -> list[ChangelistTool]:
        tools = super().changelist_tools(request)
        if self.has_add_permission(request):
            tools.append(ChangelistTool(f"admin:{self._url_name('import')}", "Import", False))
        return tools

    def service_options(self, cleaned: dict[str, Any]) -> dict[str, Any]:
        """The service's keyword arguments from the upload's (or the confirm's) options."""
        return {"skip_invalid": bool(cleaned.get("skip_invalid"))}

    def _run(self, request: HttpRequest, key: str, file_name: str, *, dry_run: bool, cleaned: dict) -> ImportReport:
        with upload_storage().open(_kept_path(key), "rb") as source:
            return type(self).import_service(
                source=source,
                file_name=file_name,
                user=request.user,
                dry_run=dry_run,
                request=request,
                **self.service_options(cleaned),
            )

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Upload and dry run: the report, and the confirm form if the import may go ahead."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = self.import_form_class(request.POST or None, request.FILES or None)
        context: dict[str, Any] = {}
        if request.method == "POST" and form.is_valid():
            forget_stale_uploads()  # each upload clears the abandoned ones, so the folder cannot fill up
            upload = form.cleaned_data["import_file"]
            key = uuid.uuid4().hex
            upload_storage().save(_kept_path(key), upload)
            confirmable = False
            try:
                report = self._run(request, key, upload.name, dry_run=True, cleaned=form.cleaned_data)
            except Refused as refusal:
                context["refusal"] = refusal
            else:
                context["report"] = report
                confirmable = not (report.error_count and not report.skip_invalid)
                if confirmable:
                    options = {name: form.cleaned_data.get(name) for name in form.cleaned_data if name != "import_file"}
                    initial = {**options, "upload": key, "file_name": upload.name}
                    context["confirm_form"] = self.confirm_form_class(initial=initial)
            finally:
                if not confirmable:
                    upload_storage().delete(_kept_path(key))
        return self._page(request, form, context)

    def process_import_view(self, request: HttpRequest) -> HttpResponse:
        """The confirm: the kept upload imported for real, then deleted; the outcome said on the changelist."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return redirect(f"admin:{self._url_name('import')}")
        form = self.confirm_form_class(request.POST)
        if not form.is_valid():
            messages.error(request, NOT_A_CONFIRMATION)
            return redirect(f"admin:{self._url_name('import')}")
        key = form.cleaned_data["upload"]
        try:
            report = self._run(request, key, form.cleaned_data["file_name"], dry_run=False, cleaned=form.cleaned_data)
        except FileNotFoundError:  # confirmed twice, or forgotten (forget_stale_uploads)
            messages.error(request, UPLOAD_GONE)
            return redirect(f"admin:{self._url_name('import')}")
        except Refused as refusal:
            messages.error(request, refusal.message)
        else:
            if report.written:
                messages.success(request, f"{report.summary()} {report.outcome()}")
            else:
                # Rows gone bad since the dry run (a child scanned into another parent meanwhile): say which.
                listed = [f"Row {issue.row}: {issue.message}" for issue in report.errors[:CONFIRM_LISTED]]
                messages.error(request, " ".join([*listed, report.summary(), report.outcome()]))
        upload_storage().delete(_kept_path(key))
        return redirect(f"admin:{self._url_name('changelist')}")

    def _page(self, request: HttpRequest, form: BulkImportForm, context: dict[str, Any]) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            **context,
            "opts": self.opts,
            "title": f"Import {self.opts.verbose_name_plural}",
            "form": form,
            "columns": self.import_columns,
            "import_layouts": self.import_layouts,
            "process_url": reverse(f"admin:{self._url_name('process_import')}"),
        }
        return TemplateResponse(request, "admin/bulk_import.html", context)


class BagImportMixin(BulkImportMixin):
    import_service = import_bags
    import_form_class = BagImportForm
    confirm_form_class = BagConfirmForm
    import_columns = (*LINK_COLUMNS, *BAG_COLUMNS, *BAG_OPTIONAL_COLUMNS)
    import_layouts = (
        "Links: columns parent, child (and optionally product, area). A list of bags: column code (and "
        "optionally product, area)."
    )

    def service_options(self, cleaned: dict[str, Any]) -> dict[str, Any]:
        return {**super().service_options(cleaned), "default_area": cleaned.get("area")}


class BillImportMixin(BulkImportMixin):
    import_service = import_bills
    import_columns = (*BILL_COLUMNS, *BILL_OPTIONAL_COLUMNS)
    import_layouts = (
        "One row per parent bag on a bill: bill_number, customer, date (YYYY-MM-DD), expected_parents, parent, "
        "and optionally product, notes; a bill's later rows may leave its details empty."
    )


extend_admin(Bag, BagImportMixin)
extend_admin(Bill, BillImportMixin)
