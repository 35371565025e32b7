"""The biller's pages: bill list and search, create, edit, the bill page (view + scan box, whose scans go
to bills.api from static/js/bill_scan.js), finalise, reopen, the manifest and the exports.

The bill page works without JavaScript too: its scan box and remove buttons are plain forms posting here.
"""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bills import exports, services
from bills.forms import BillForm, BillSearchForm
from bills.managers import BillView
from bills.models import Bill, BillStatus
from bills.services import BillChange, BillRefused
from traitortrack import spreadsheets
from traitortrack.middleware import camera_page
from traitortrack.permissions import BILLER, access
from traitortrack.sorting import sort_columns

PAGE_SIZE = 25
# Parents per manifest column: two columns of 30 fill one A4 page.
MANIFEST_COLUMN_ROWS = 30
COLUMNS = [
    ("bill_number", _("Bill number")),
    ("customer", _("Customer")),
    ("bill_date", _("Date")),
    ("status", _("Status")),
    ("parents", _("Parents")),
]


def _bill_view(pk: int, *, with_children: bool = False) -> BillView:
    view = Bill.objects.bill_view(pk, with_children=with_children)
    if view is None:
        raise Http404("No such bill.")
    return view


def _tell(request: HttpRequest, change: BillChange) -> None:
    messages.success(request, change.message)
    if change.warning:
        messages.warning(request, change.warning)


def _refused(request: HttpRequest, refusal: BillRefused) -> None:
    if refusal.status == 403:
        raise PermissionDenied(refusal.message)
    messages.error(request, refusal.message)


@access(BILLER)
@require_GET
def bill_list(request: HttpRequest) -> HttpResponse:
    search = BillSearchForm(request.GET)
    arguments = search.search_arguments()
    page = Paginator(Bill.objects.search(**arguments), PAGE_SIZE).get_page(request.GET.get("page"))
    sort = arguments["sort"]
    context = {"search": search, "page": page, "columns": sort_columns(COLUMNS, sort), "sort": sort}
    return render(request, "bills/bill_list.html", context)


@access(BILLER)
@require_http_methods(["GET", "POST"])
def bill_create(request: HttpRequest) -> HttpResponse:
    form = BillForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            change = services.create_bill(user=request.user, request=request, **form.service_arguments())
        except BillRefused as refusal:
            form.add_error(None, refusal.message)
        else:
            _tell(request, change)
            return redirect("bills:detail", pk=change.bill.pk)
    return render(request, "bills/bill_form.html", {"form": form, "bill": None}, status=400 if form.errors else 200)


@access(BILLER)
@require_http_methods(["GET", "POST"])
def bill_edit(request: HttpRequest, pk: int) -> HttpResponse:
    bill = get_object_or_404(Bill.objects.select_related("product"), pk=pk)
    if bill.status == BillStatus.FINALISED:
        _refused(request, services.finalised_refusal(bill))
        return redirect("bills:detail", pk=pk)
    form = BillForm(request.POST or None, instance=bill)
    if request.method == "POST" and form.is_valid():
        try:
            change = services.update_bill(user=request.user, bill_id=pk, request=request, **form.service_arguments())
        except BillRefused as refusal:
            form.add_error(None, refusal.message)
        else:
            _tell(request, change)
            return redirect("bills:detail", pk=pk)
    return render(request, "bills/bill_form.html", {"form": form, "bill": bill}, status=400 if form.errors else 200)


@access(BILLER)
@require_GET
@ensure_csrf_cookie  # bill_scan.js reads the csrftoken cookie for its POSTs
@camera_page
def bill_detail(request: HttpRequest, pk: int) -> HttpResponse:
    view = _bill_view(pk)
    config = {
        "parents_url": reverse("bills:api-parents", args=[view.id]),
        "remove_form_url": reverse("bills:parent-remove", args=[view.id]),
        "time_zone": settings.TIME_ZONE,
        # The difference box's notes, as the template writes them (bill_scan.js redraws the box).
        "text": {
            "loading": gettext("still to load"),
            "short": gettext("short of expected"),
            "over": gettext("over expected"),
            "exact": gettext("as expected"),
        },
    }
    return render(request, "bills/bill_detail.html", {"bill": view, "scan_config": config})


def _change_and_return(request: HttpRequest, pk: int, action, **arguments) -> HttpResponse:
    try:
        change = action(user=request.user, bill_id=pk, request=request, **arguments)
    except BillRefused as refusal:
        if refusal.code == "unknown_bill":
            raise Http404(refusal.message) from refusal
        _refused(request, refusal)
    else:
        _tell(request, change)
    return redirect("bills:detail", pk=pk)


@access(BILLER)
@require_POST
def parent_add(request: HttpRequest, pk: int) -> HttpResponse:
    return _change_and_return(request, pk, services.add_parent, raw_code=request.POST.get("code", ""))


@access(BILLER)
@require_POST
def parent_remove(request: HttpRequest, pk: int) -> HttpResponse:
    return _change_and_return(request, pk, services.remove_parent, raw_code=request.POST.get("code", ""))


@access(BILLER)
@require_POST
def bill_finalise(request: HttpRequest, pk: int) -> HttpResponse:
    return _change_and_return(request, pk, services.finalise_bill)


@access(BILLER)
@require_POST
def bill_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    return _change_and_return(request, pk, services.reopen_bill)


@access(BILLER)
@require_GET
def manifest(request: HttpRequest, pk: int) -> HttpResponse:
    view = _bill_view(pk)
    numbered = list(enumerate(view.parents, start=1))
    half = max(MANIFEST_COLUMN_ROWS, (len(numbered) + 1) // 2)
    columns = [column for column in (numbered[:half], numbered[half:]) if column]
    return render(request, "bills/manifest.html", {"bill": view, "columns": columns})


def _filename(view: BillView, extension: str) -> str:
    return f"bill-{slugify(view.bill_number) or view.id}.{extension}"


@access(BILLER)
@require_GET
def export_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    view = _bill_view(pk, with_children=True)
    services.record_export(
        user=request.user, bill_id=view.id, bill_number=view.bill_number, file_format="csv", request=request
    )
    return spreadsheets.csv_response(exports.csv_sheet(view), _filename(view, "csv"))


@access(BILLER)
@require_GET
def export_xlsx(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    view = _bill_view(pk, with_children=True)
    services.record_export(
        user=request.user, bill_id=view.id, bill_number=view.bill_number, file_format="xlsx", request=request
    )
    return spreadsheets.xlsx_response(exports.xlsx_sheets(view), _filename(view, "xlsx"))
