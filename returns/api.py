"""The JSON return ticket API: used by the ticket page (static/js/return_scan.js), usable by other programs
(its OpenAPI description is returns/openapi.py).

Session authentication; writes need the CSRF token in X-CSRFToken. Billers and admins only. A change
answers ``{ok, code, message, warning, replayed, ticket}`` with the whole ticket as it now is; a refusal is
a 4xx with a stable ``code`` and a sentence. A scan onto a ticket carries a ``client_scan_id``: its repeat
answers as the first time, ``replayed`` true, and changes nothing.
"""

from collections.abc import Callable
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from returns import services
from returns.error_codes import ReturnRefusal
from returns.forms import ReturnTicketForm, ReturnTicketSearchForm
from returns.models import ReturnTicket
from returns.services import ReturnRefused, TicketChange
from traitortrack.edge import invalid_fields, json_body
from traitortrack.permissions import BILLER, access

PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


def _when(moment) -> str | None:
    return moment.isoformat() if moment else None


def _name(user) -> str | None:
    return user.username if user is not None else None


def ticket_json(ticket: ReturnTicket) -> dict[str, Any]:
    parents = ReturnTicket.objects.parents(ticket.pk)
    return {
        "id": ticket.pk,
        "number": ticket.number,
        "source": ticket.source,
        "notes": ticket.notes,
        "status": ticket.status,
        "parent_count": len(parents),
        "child_count": sum(parent.child_count or 0 for parent in parents),
        "created_by": _name(ticket.created_by),
        "created_at": _when(ticket.created_at),
        "committed_by": _name(ticket.committed_by),
        "committed_at": _when(ticket.committed_at),
        "cancelled_by": _name(ticket.cancelled_by),
        "cancelled_at": _when(ticket.cancelled_at),
        "url": reverse("returns:detail", args=[ticket.pk]),
        "parents": [
            {
                "qr_id": parent.qr_id,
                "product": parent.product,
                "child_count": parent.child_count,
                "bill_number": parent.bill_number,
                "added_at": _when(parent.added_at),
                "added_by": parent.added_by,
            }
            for parent in parents
        ],
    }


def ticket_summary_json(ticket: ReturnTicket) -> dict[str, Any]:
    return {
        "id": ticket.pk,
        "number": ticket.number,
        "source": ticket.source,
        "status": ticket.status,
        "parent_count": ticket.parent_count,
        "created_by": _name(ticket.created_by),
        "created_at": _when(ticket.created_at),
        "url": reverse("returns:detail", args=[ticket.pk]),
    }


def _ticket(ticket_id: int) -> ReturnTicket:
    ticket = (
        ReturnTicket.objects.select_related("created_by", "committed_by", "cancelled_by").filter(pk=ticket_id).first()
    )
    if ticket is None:
        raise ReturnRefused(ReturnRefusal.UNKNOWN_TICKET, gettext("That return ticket does not exist."), status=404)
    return ticket


def _changed(change: TicketChange, *, status: int = 200) -> JsonResponse:
    body = {
        "ok": True,
        "code": change.code,
        "message": change.message,
        "warning": change.warning,
        "replayed": change.replayed,
        "ticket": ticket_json(_ticket(change.ticket.pk)),
    }
    return JsonResponse(body, status=status)


def ticket_endpoint(methods: list[str]) -> Callable:
    """Billers and admins, JSON out, never cached (a refusal raised is answered by traitortrack.edge)."""

    def decorate(view: Callable) -> Callable:
        return access(BILLER)(never_cache(require_http_methods(methods)(view)))

    return decorate


def _text_fields(data: dict[str, Any]) -> dict[str, Any]:
    wrong = {
        field: ["Must be a string."]
        for field in ReturnTicketForm.Meta.fields
        if field in data and data[field] is not None and not isinstance(data[field], str)
    }
    if wrong:
        raise invalid_fields(wrong)
    return {field: data[field] for field in ReturnTicketForm.Meta.fields if field in data}


@ticket_endpoint(["GET", "POST"])
def tickets(request: HttpRequest) -> JsonResponse:
    """GET: search and list return tickets, a page at a time. POST: make a draft ticket."""
    if request.method == "POST":
        form = ReturnTicketForm(data=_text_fields(json_body(request)))
        if not form.is_valid():
            errors = {field: [str(message) for message in messages] for field, messages in form.errors.items()}
            raise invalid_fields(errors, labels={name: str(field.label) for name, field in form.fields.items()})
        change = services.create_ticket(user=request.user, request=request, **form.service_arguments())
        return _changed(change, status=201)
    search = ReturnTicketSearchForm(request.GET)
    try:
        per_page = min(max(int(request.GET.get("per_page", PAGE_SIZE)), 1), MAX_PAGE_SIZE)
    except ValueError:
        per_page = PAGE_SIZE
    found = ReturnTicket.objects.search(**search.search_arguments())
    page = Paginator(found, per_page).get_page(request.GET.get("page"))
    return JsonResponse(
        {
            "ok": True,
            "count": page.paginator.count,
            "page": page.number,
            "pages": page.paginator.num_pages,
            "tickets": [ticket_summary_json(ticket) for ticket in page],
        }
    )


@ticket_endpoint(["GET"])
def ticket(request: HttpRequest, ticket_id: int) -> JsonResponse:
    return JsonResponse({"ok": True, "ticket": ticket_json(_ticket(ticket_id))})


@ticket_endpoint(["POST"])
def add_parent(request: HttpRequest, ticket_id: int) -> JsonResponse:
    data = json_body(request)
    change = services.add_parent(
        user=request.user,
        ticket_id=ticket_id,
        raw_code=data.get("code"),
        client_scan_id=data.get("client_scan_id"),
        request=request,
    )
    return _changed(change)


@ticket_endpoint(["DELETE"])
def remove_parent(request: HttpRequest, ticket_id: int, code: str) -> JsonResponse:
    return _changed(services.remove_parent(user=request.user, ticket_id=ticket_id, raw_code=code, request=request))


@ticket_endpoint(["POST"])
def commit(request: HttpRequest, ticket_id: int) -> JsonResponse:
    return _changed(services.commit_ticket(user=request.user, ticket_id=ticket_id, request=request))


@ticket_endpoint(["POST"])
def cancel(request: HttpRequest, ticket_id: int) -> JsonResponse:
    return _changed(services.cancel_ticket(user=request.user, ticket_id=ticket_id, request=request))
