"""The return ticket pages: list and search, create, the ticket page (details + scan box, whose scans go to
returns.api from static/js/return_scan.js), commit, cancel, the printable return note and the exports.

The ticket page works without JavaScript too: its scan box and remove buttons are plain forms posting here
(the scan form carries a client scan id made with the page, so posting it twice changes nothing twice).
"""

import uuid

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from returns import exports, services
from returns.forms import ReturnTicketForm, ReturnTicketSearchForm
from returns.managers import TicketParent
from returns.models import ReturnTicket
from returns.services import ReturnRefused, TicketChange
from traitortrack import spreadsheets
from traitortrack.middleware import camera_page
from traitortrack.permissions import BILLER, access
from traitortrack.sorting import sort_columns

PAGE_SIZE = 25
COLUMNS = [
    ("number", _("Ticket")),
    ("source", _("Came back from")),
    ("status", _("Status")),
    ("parents", _("Parents")),
    ("created_at", _("Made")),
]


def _ticket(pk: int) -> tuple[ReturnTicket, list[TicketParent]]:
    ticket = ReturnTicket.objects.select_related("created_by", "committed_by", "cancelled_by").filter(pk=pk).first()
    if ticket is None:
        raise Http404("No such return ticket.")
    return ticket, ReturnTicket.objects.parents(ticket.pk)


def _tell(request: HttpRequest, change: TicketChange) -> None:
    messages.success(request, change.message)
    if change.warning:
        messages.warning(request, change.warning)


@access(BILLER)
@require_GET
def ticket_list(request: HttpRequest) -> HttpResponse:
    search = ReturnTicketSearchForm(request.GET)
    arguments = search.search_arguments()
    page = Paginator(ReturnTicket.objects.search(**arguments), PAGE_SIZE).get_page(request.GET.get("page"))
    sort = arguments["sort"]
    context = {"search": search, "page": page, "sort": sort, "columns": sort_columns(COLUMNS, sort)}
    return render(request, "returns/ticket_list.html", context)


@access(BILLER)
@require_http_methods(["GET", "POST"])
def ticket_create(request: HttpRequest) -> HttpResponse:
    form = ReturnTicketForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        change = services.create_ticket(user=request.user, request=request, **form.service_arguments())
        _tell(request, change)
        return redirect("returns:detail", pk=change.ticket.pk)
    return render(request, "returns/ticket_form.html", {"form": form}, status=400 if form.errors else 200)


@access(BILLER)
@require_GET
@ensure_csrf_cookie  # return_scan.js reads the csrftoken cookie for its POSTs
@camera_page
def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    ticket, parents = _ticket(pk)
    config = {
        "parents_url": reverse("returns:api-parents", args=[ticket.pk]),
        "remove_form_url": reverse("returns:parent-remove", args=[ticket.pk]),
        "time_zone": settings.TIME_ZONE,
    }
    context = {
        "ticket": ticket,
        "parents": parents,
        "child_count": sum(parent.child_count or 0 for parent in parents),
        "scan_config": config,
        "client_scan_id": uuid.uuid4().hex,
    }
    return render(request, "returns/ticket_detail.html", context)


def _change_and_return(request: HttpRequest, pk: int, action, **arguments) -> HttpResponse:
    try:
        change = action(user=request.user, ticket_id=pk, request=request, **arguments)
    except ReturnRefused as refusal:
        if refusal.code == "unknown_ticket":
            raise Http404(refusal.message) from refusal
        if refusal.status == 403:
            raise PermissionDenied(refusal.message) from refusal
        messages.error(request, refusal.message)
    else:
        _tell(request, change)
    return redirect("returns:detail", pk=pk)


@access(BILLER)
@require_POST
def parent_add(request: HttpRequest, pk: int) -> HttpResponse:
    return _change_and_return(
        request,
        pk,
        services.add_parent,
        raw_code=request.POST.get("code", ""),
        client_scan_id=request.POST.get("client_scan_id", ""),
    )


@access(BILLER)
@require_POST
def parent_remove(request: HttpRequest, pk: int) -> HttpResponse:
    return _change_and_return(request, pk, services.remove_parent, raw_code=request.POST.get("code", ""))


@access(BILLER)
@require_POST
def ticket_commit(request: HttpRequest, pk: int) -> HttpResponse:
    return _change_and_return(request, pk, services.commit_ticket)


@access(BILLER)
@require_POST
def ticket_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _change_and_return(request, pk, services.cancel_ticket)


@access(BILLER)
@require_GET
def return_note(request: HttpRequest, pk: int) -> HttpResponse:
    ticket, parents = _ticket(pk)
    context = {
        "ticket": ticket,
        "parents": list(enumerate(parents, start=1)),
        "child_count": sum(parent.child_count or 0 for parent in parents),
        "bills": sorted({parent.bill_number for parent in parents if parent.bill_number}),
    }
    return render(request, "returns/return_note.html", context)


def _export(request: HttpRequest, pk: int, file_format: str) -> StreamingHttpResponse:
    ticket, parents = _ticket(pk)
    services.record_export(user=request.user, ticket=ticket, file_format=file_format, request=request)
    filename = f"return-{ticket.number.lower()}.{file_format}"
    if file_format == "csv":
        return spreadsheets.csv_response(exports.csv_sheet(ticket, parents), filename)
    return spreadsheets.xlsx_response(exports.xlsx_sheets(ticket, parents), filename)


@access(BILLER)
@require_GET
def export_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    return _export(request, pk, "csv")


@access(BILLER)
@require_GET
def export_xlsx(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    return _export(request, pk, "xlsx")
