"""The JSON bill API: used by the bill page (static/js/bill_scan.js), usable by other programs (its OpenAPI
description is bills/openapi.py).

Session authentication; writes need the CSRF token in X-CSRFToken. Billers and admins only (401 without a
session, 403 for dispatchers). A change answers ``{ok, code, message, warning, bill}`` with the whole bill
as it now is (its parents, counts and weights); a refusal is a 4xx with a stable ``code`` and a sentence,
and ``errors`` per field when the bill's details do not validate. Weights are strings of kilograms with
three decimals ("30.000"): exact, unlike JSON numbers.
"""

from collections.abc import Callable
from typing import Any

from django.core.paginator import Paginator
from django.forms.models import model_to_dict
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from bills import services
from bills.error_codes import BillRefusal
from bills.forms import BillForm, BillSearchForm
from bills.managers import BillParent, BillView
from bills.models import Bill
from bills.services import BillChange, BillRefused
from bills.weights import kg_text
from traitortrack.edge import invalid_fields, json_body
from traitortrack.errors import Refused
from traitortrack.permissions import BILLER, access

PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
TRUE_WORDS = {"1", "true", "yes", "on"}


def _when(moment) -> str | None:
    return moment.isoformat() if moment else None


def parent_json(parent: BillParent) -> dict[str, Any]:
    body = {
        "qr_id": parent.qr_id,
        "product": parent.product,
        "child_count": parent.child_count,
        "capacity": parent.capacity,
        "full": parent.is_full,
        "child_weight_kg": kg_text(parent.child_weight_kg),
        "weight_kg": kg_text(parent.weight_kg),
        "added_at": _when(parent.added_at),
        "added_by": parent.added_by,
        "returned_on": parent.returned_on or None,
        "returned_at": _when(parent.returned_at),
    }
    if parent.child_codes is not None:
        body["child_codes"] = list(parent.child_codes)
    return body


def bill_json(view: BillView) -> dict[str, Any]:
    return {
        "id": view.id,
        "bill_number": view.bill_number,
        "customer": view.customer,
        "bill_date": view.bill_date.isoformat(),
        "status": view.status,
        "expected_parents": view.expected_parents,
        "notes": view.notes,
        "product_id": view.product_id,
        "product": view.product,
        "full_parent_weight_kg": kg_text(view.full_parent_weight_kg),
        "parent_count": view.parent_count,
        "child_count": view.child_count,
        "actual_weight_kg": kg_text(view.actual_weight_kg),
        "expected_weight_kg": kg_text(view.expected_weight_kg),
        "difference_kg": kg_text(view.difference_kg),
        "weight_state": view.weight_state,
        "created_by": view.created_by,
        "created_at": _when(view.created_at),
        "updated_at": _when(view.updated_at),
        "finalised_at": _when(view.finalised_at),
        "finalised_by": view.finalised_by,
        "url": reverse("bills:detail", args=[view.id]),
        "parents": [parent_json(parent) for parent in view.parents],
    }


def bill_summary_json(bill: Bill) -> dict[str, Any]:
    return {
        "id": bill.pk,
        "bill_number": bill.bill_number,
        "customer": bill.customer,
        "bill_date": bill.bill_date.isoformat(),
        "status": bill.status,
        "product": bill.product.name,
        "expected_parents": bill.expected_parents,
        "parent_count": bill.parent_count,
        "created_at": _when(bill.created_at),
        "finalised_at": _when(bill.finalised_at),
        "url": reverse("bills:detail", args=[bill.pk]),
    }


def _changed(change: BillChange, *, status: int = 200) -> JsonResponse:
    view = Bill.objects.bill_view(change.bill.pk)
    body = {
        "ok": True,
        "code": change.code,
        "message": change.message,
        "warning": change.warning,
        "bill": bill_json(view) if view else None,
    }
    return JsonResponse(body, status=status)


# The JSON type of each field a bill's body may carry; a form would read 5 as "5" and ["x"] as "['x']".
BILL_FIELD_TYPES: dict[str, type] = {
    "bill_number": str,
    "customer": str,
    "bill_date": str,
    "product": int,
    "expected_parents": int,
    "notes": str,
}
JSON_TYPE_NAMES = {str: "a string", int: "a whole number"}


def bill_fields(request: HttpRequest) -> dict[str, Any]:
    """The body's bill fields, each of its JSON type (a 422 naming the fields that are not); others ignored."""
    data = json_body(request)
    errors = {
        field: [f"Must be {JSON_TYPE_NAMES[kind]}."]
        for field, kind in BILL_FIELD_TYPES.items()
        if field in data
        and data[field] is not None
        and (not isinstance(data[field], kind) or isinstance(data[field], bool))
    }
    if errors:
        raise invalid_fields(errors)
    return {field: data[field] for field in BILL_FIELD_TYPES if field in data}


def form_refusal(form: BillForm) -> Refused:
    """A bill form's errors as one refusal: a taken bill number is a conflict, the rest a 422 naming the field."""
    errors = {field: [str(message) for message in messages] for field, messages in form.errors.items()}
    if form.has_error("bill_number", "taken"):
        return BillRefused(BillRefusal.BILL_NUMBER_TAKEN, errors["bill_number"][0], errors=errors)
    return invalid_fields(errors, labels={name: str(field.label or name) for name, field in form.fields.items()})


def bill_endpoint(methods: list[str]) -> Callable:
    """Billers and admins, JSON out, never cached (a refusal raised is answered by traitortrack.edge)."""

    def decorate(view: Callable) -> Callable:
        return access(BILLER)(never_cache(require_http_methods(methods)(view)))

    return decorate


@bill_endpoint(["GET", "POST"])
def bills(request: HttpRequest) -> JsonResponse:
    """GET: search and list bills, a page at a time. POST: create a bill."""
    if request.method == "POST":
        form = BillForm(data=bill_fields(request))
        if not form.is_valid():
            raise form_refusal(form)
        change = services.create_bill(user=request.user, request=request, **form.service_arguments())
        return _changed(change, status=201)
    search = BillSearchForm(request.GET)
    try:
        per_page = min(max(int(request.GET.get("per_page", PAGE_SIZE)), 1), MAX_PAGE_SIZE)
    except ValueError:
        per_page = PAGE_SIZE
    page = Paginator(Bill.objects.search(**search.search_arguments()), per_page).get_page(request.GET.get("page"))
    return JsonResponse(
        {
            "ok": True,
            "count": page.paginator.count,
            "page": page.number,
            "pages": page.paginator.num_pages,
            "bills": [bill_summary_json(bill) for bill in page],
        }
    )


@bill_endpoint(["GET", "PATCH"])
def bill(request: HttpRequest, bill_id: int) -> JsonResponse:
    """GET: the bill with its parents, counts and weights (``?children=1`` adds each parent's child codes).
    PATCH: change a draft's details; fields left out keep their values."""
    if request.method == "PATCH":
        current = Bill.objects.filter(pk=bill_id).first()
        if current is None:
            raise BillRefused(
                BillRefusal.UNKNOWN_BILL, gettext("That bill does not exist (it may have been deleted)."), status=404
            )
        data = {**model_to_dict(current, fields=BillForm.Meta.fields), **bill_fields(request)}
        form = BillForm(data=data, instance=current)
        if not form.is_valid():
            raise form_refusal(form)
        change = services.update_bill(user=request.user, bill_id=bill_id, request=request, **form.service_arguments())
        return _changed(change)
    with_children = request.GET.get("children", "").lower() in TRUE_WORDS
    view = Bill.objects.bill_view(bill_id, with_children=with_children)
    if view is None:
        raise BillRefused(
            BillRefusal.UNKNOWN_BILL, gettext("That bill does not exist (it may have been deleted)."), status=404
        )
    return JsonResponse({"ok": True, "bill": bill_json(view)})


@bill_endpoint(["POST"])
def add_parent(request: HttpRequest, bill_id: int) -> JsonResponse:
    data = json_body(request)
    return _changed(services.add_parent(user=request.user, bill_id=bill_id, raw_code=data.get("code"), request=request))


@bill_endpoint(["DELETE"])
def remove_parent(request: HttpRequest, bill_id: int, code: str) -> JsonResponse:
    return _changed(services.remove_parent(user=request.user, bill_id=bill_id, raw_code=code, request=request))


@bill_endpoint(["POST"])
def finalise(request: HttpRequest, bill_id: int) -> JsonResponse:
    return _changed(services.finalise_bill(user=request.user, bill_id=bill_id, request=request))


@bill_endpoint(["POST"])
def reopen(request: HttpRequest, bill_id: int) -> JsonResponse:
    return _changed(services.reopen_bill(user=request.user, bill_id=bill_id, request=request))
