"""The admin's bulk import of bags and links, and of bills with their parents: plain admin views over the
import jobs (imports/jobs.py), which run the import services in a background worker, so the admin checks
and writes exactly as the manage.py commands do, and no request ever reads the file.

Two steps. The upload is kept (in the database) and its dry run queued: every check and write, rolled
back. The job's page shows its progress, then its report and, if the import may go ahead, the Confirm,
which queues the import of the same upload. An upload that cannot be confirmed (a refused file, bad rows)
is deleted when its dry run ends, a confirmed one after its import, an unconfirmed one after a day. The
pages are attached to bags' and bills' admins here (traitortrack/admin_extend.py): they may not import
this app.
"""

from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import DispatchArea
from bags.models import Bag
from bills.models import Bill
from imports import jobs
from imports.bag_import import BAG_COLUMNS, LINK_COLUMNS
from imports.bag_import import OPTIONAL_COLUMNS as BAG_OPTIONAL_COLUMNS
from imports.bill_import import OPTIONAL_COLUMNS as BILL_OPTIONAL_COLUMNS
from imports.bill_import import REQUIRED_COLUMNS as BILL_COLUMNS
from imports.choices import ImportSubject, JobStatus
from imports.models import ImportJob
from traitortrack.admin_extend import ChangelistTool, ChangelistToolsMixin, extend_admin

# The job page reloads itself this often until the job is finished.
REFRESH_SECONDS = 2
# A job no worker has taken after this long gets a hint that none may be running.
NO_WORKER_HINT_AFTER = timedelta(seconds=30)
NOT_A_CONFIRMATION = "This confirmation was not made by the import page. Upload the file again."


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

    def job_options(self) -> dict[str, Any]:
        return {"skip_invalid": self.cleaned_data["skip_invalid"]}


class BulkConfirmForm(forms.Form):
    """The confirm step: which dry run to import for real."""

    job = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class BagImportForm(BulkImportForm):
    area = forms.ModelChoiceField(
        DispatchArea.objects.filter(is_active=True),
        required=False,
        label="Dispatch area",
        help_text="For new bags whose row names no area.",
    )

    def job_options(self) -> dict[str, Any]:
        return {**super().job_options(), "default_area": self.cleaned_data["area"]}


class BulkImportMixin(ChangelistToolsMixin):
    """An "Import" button and its pages over one import service: the upload (``import/``), the job's page
    (``import/<id>/``: progress, then the report and the Confirm), and the confirm (``process_import/``)."""

    import_subject: str
    import_form_class: type[BulkImportForm] = BulkImportForm
    import_columns: tuple[str, ...] = ()
    # One sentence on the file's columns, shown above the form.
    import_layouts = ""

    def _url_name(self, step: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{step}"

    def get_urls(self) -> list:
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name=self._url_name("import")),
            path(
                "import/<int:job_id>/",
                self.admin_site.admin_view(self.import_job_view),
                name=self._url_name("import_job"),
            ),
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

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """The upload: kept and queued for its dry run (no request reads the file), then the job's page."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = self.import_form_class(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            job = jobs.queue_dry_run(
                form.cleaned_data["import_file"], subject=self.import_subject, user=request.user, **form.job_options()
            )
            return redirect(f"admin:{self._url_name('import_job')}", job_id=job.pk)
        return self._page(request, "admin/bulk_import.html", {"form": form})

    def import_job_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        """A job's progress while it runs; its report (and the Confirm of a dry run that may go ahead) after."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        job = ImportJob.objects.filter(pk=job_id, subject=self.import_subject).select_related("confirmation").first()
        if job is None:
            raise Http404("No such import.")
        context: dict[str, Any] = {"job": job, "refresh_seconds": None if job.finished else REFRESH_SECONDS}
        if job.status == JobStatus.QUEUED and job.queued_at < timezone.now() - NO_WORKER_HINT_AFTER:
            context["no_worker"] = True
        if job.status == JobStatus.DONE:
            report = jobs.report_from_dict(job.report)
            context["report"] = report
            confirmation = getattr(job, "confirmation", None)
            if confirmation is not None:
                context["confirmation_url"] = reverse(
                    f"admin:{self._url_name('import_job')}", kwargs={"job_id": confirmation.pk}
                )
            elif jobs.confirmable(report) and job.upload_id is not None:
                context["confirm_form"] = BulkConfirmForm(initial={"job": job.pk})
        return self._page(request, "admin/bulk_import_job.html", context)

    def process_import_view(self, request: HttpRequest) -> HttpResponse:
        """The Confirm: the dry run's upload queued for the import itself (once, however often it is pressed)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return redirect(f"admin:{self._url_name('import')}")
        form = BulkConfirmForm(request.POST)
        dry_run = None
        if form.is_valid():
            dry_run = ImportJob.objects.filter(
                pk=form.cleaned_data["job"], subject=self.import_subject, dry_run=True
            ).first()
        if dry_run is None:
            messages.error(request, NOT_A_CONFIRMATION)
            return redirect(f"admin:{self._url_name('import')}")
        try:
            job = jobs.queue_import(dry_run, request.user)
        except ValueError as refusal:
            messages.error(request, str(refusal))
            return redirect(f"admin:{self._url_name('import')}")
        return redirect(f"admin:{self._url_name('import_job')}", job_id=job.pk)

    def _page(self, request: HttpRequest, template: str, context: dict[str, Any]) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            **context,
            "opts": self.opts,
            "title": f"Import {self.opts.verbose_name_plural}",
            "columns": self.import_columns,
            "import_layouts": self.import_layouts,
            "import_url": reverse(f"admin:{self._url_name('import')}"),
            "process_url": reverse(f"admin:{self._url_name('process_import')}"),
        }
        return TemplateResponse(request, template, context)


class BagImportMixin(BulkImportMixin):
    import_subject = ImportSubject.BAGS
    import_form_class = BagImportForm
    import_columns = (*LINK_COLUMNS, *BAG_COLUMNS, *BAG_OPTIONAL_COLUMNS)
    import_layouts = (
        "Links: columns parent, child (and optionally product, area). A list of bags: column code (and "
        "optionally product, area)."
    )


class BillImportMixin(BulkImportMixin):
    import_subject = ImportSubject.BILLS
    import_columns = (*BILL_COLUMNS, *BILL_OPTIONAL_COLUMNS)
    import_layouts = (
        "One row per parent bag on a bill: bill_number, customer, date (YYYY-MM-DD), expected_parents, parent, "
        "and optionally product, notes; a bill's later rows may leave its details empty."
    )


extend_admin(Bag, BagImportMixin)
extend_admin(Bill, BillImportMixin)

JOB_PAGES = {ImportSubject.BAGS: "admin:bags_bag_import_job", ImportSubject.BILLS: "admin:bills_bill_import_job"}


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    """The import jobs, newest first, each linking to its page (progress, report, Confirm); written only by
    the jobs themselves."""

    list_display = ("queued_at", "job_page", "subject", "requested_by", "status", "rows_read", "errors_so_far")
    list_filter = ("status", "subject", "dry_run")
    list_select_related = ("requested_by",)
    search_fields = ("^file_name",)

    @admin.display(description="job")
    def job_page(self, job: ImportJob) -> str:
        return format_html('<a href="{}">{}</a>', reverse(JOB_PAGES[job.subject], args=[job.pk]), job)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ImportJob | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ImportJob | None = None) -> bool:
        return False
