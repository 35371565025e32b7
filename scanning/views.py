"""The dispatcher's pages: the scan page (its scans go to scanning.api from static/js/scan.js) and bag lookup."""

from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET

from accounts.middleware import session_deadlines
from bags.qr import QRCodeError
from scanning import selectors
from scanning.models import ScanAction


@require_GET
@login_required
@ensure_csrf_cookie  # scan.js reads the csrftoken cookie for its POSTs; the page has no form that would set it
def scan_page(request: HttpRequest) -> HttpResponse:
    config = selectors.scan_page_context(request.user, session=session_deadlines(request.session))
    return render(request, "scanning/scan.html", {"scan_config": config})


@require_GET
@login_required
def lookup_page(request: HttpRequest) -> HttpResponse:
    code = request.GET.get("code", "").strip()
    result, error, status = None, None, 200
    if code:
        try:
            result = selectors.lookup_bag(user=request.user, code=code)
        except QRCodeError as refusal:
            error, status = refusal.message, 400
        else:
            status = 200 if result else 404
    context = {"code": code, "result": _for_display(result) if result else None, "error": error}
    return render(request, "scanning/lookup.html", context, status=status)


def _for_display(result: dict[str, Any]) -> dict[str, Any]:
    """The selector answers in the API's JSON shapes; the template wants datetimes (shown in local time)
    and the actions' names."""
    labels = dict(ScanAction.choices)
    parent = result["parent"]
    return {
        **result,
        "bag": {**result["bag"], "created_at": _when(result["bag"].get("created_at"))},
        "parent": {**parent, "linked_at": _when(parent.get("linked_at"))} if parent else None,
        "scans": [
            {**scan, "at": _when(scan.get("at")), "action_label": labels.get(scan["action"], scan["action"])}
            for scan in result["scans"]
        ],
    }


def _when(iso: str | None) -> datetime | None:
    return parse_datetime(iso) if iso else None
