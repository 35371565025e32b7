"""The export page (billers and admins; the audit log for admins only) and one download per table."""

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from exports.forms import FORMS, ExportForm
from exports.tables import RETRY_AFTER_SECONDS, TABLES, ExportsBusy, record_export
from tracking.bag_list import BagListForm, matching_bags
from traitortrack.permissions import ADMIN, BILLER, access
from traitortrack.replica import reads_replica


def _page(request: HttpRequest, bound: ExportForm | None = None, *, status: int = 200, busy: str = "") -> HttpResponse:
    return render(request, "exports/index.html", {"forms": _forms(request.user, bound), "busy": busy}, status=status)


def _forms(user, bound: ExportForm | None = None) -> list[ExportForm]:
    forms = []
    for name, form_class in FORMS.items():
        if form_class.table.admin_only and not user.is_admin:
            continue
        forms.append(bound if bound is not None and bound.table.name == name else form_class(prefix=name))
    return forms


@access(BILLER)
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return _page(request)


def _download(request: HttpRequest, name: str) -> HttpResponse:
    form = FORMS[name](request.GET, prefix=name)
    if not form.is_valid():
        return _page(request, form, status=400)
    table, file_format = form.table, form.cleaned_data["file_format"]
    try:
        response = table.response(form.queryset(), file_format)
    except ExportsBusy as busy:
        page = _page(request, form, status=busy.status, busy=busy.message)
        page["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return page
    record_export(user=request.user, table=table, file_format=file_format, filters=form.filters(), request=request)
    return response


def _download_view(name: str):
    @access(ADMIN if FORMS[name].table.admin_only else BILLER)
    @require_GET
    @reads_replica
    def download(request: HttpRequest) -> StreamingHttpResponse | HttpResponse:
        return _download(request, name)

    download.__name__ = download.__qualname__ = name
    return download


bags, links, scans, bills, audit = (_download_view(name) for name in ("bags", "links", "scans", "bills", "audit"))


@access(BILLER)
@require_GET
@reads_replica
def bag_list(request: HttpRequest) -> StreamingHttpResponse:
    """The bag list's bags (/bags/, its filters) as the bags table's export: the same columns, streamed."""
    form = BagListForm(request.GET, user=request.user)
    file_format = "xlsx" if request.GET.get("format") == "xlsx" else "csv"
    table = TABLES["bags"]
    try:
        response = table.response(matching_bags(request.user, form.bag_filter()), file_format)
    except ExportsBusy as busy:
        busy.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        raise
    filters = {name: str(getattr(value, "code", value)) for name, value in form.values().items()}
    filters.pop("sort", None)
    filters.pop("after", None)
    record_export(user=request.user, table=table, file_format=file_format, filters=filters, request=request)
    return response
