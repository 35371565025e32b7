"""The JSON scan API: used by the scan page, usable by other scanner apps (described in scanning/openapi.py).

Session authentication; POSTs need the CSRF token in the X-CSRFToken header. Every answer is JSON,
including the refusals (a 4xx with a stable ``code`` and a plain ``message``), a missing session (401,
so an offline queue knows to wait for the next login) and a body that is not what we expect (400/413).
"""

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.ratelimits import scan_rate_limit
from bags import qr
from scanning import selectors, services
from scanning.services import ScanAnswer, ScanRefused

# A scan is a few short strings; anything bigger is a broken or hostile client.
MAX_BODY_BYTES = 4096


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"ok": False, "code": code, "message": message, "parent": None, "scan": None}, status=status)


def api_login_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return _error(401, "not_logged_in", "Your session has ended. Log in again; waiting scans are kept.")
        return view(request, *args, **kwargs)

    return wrapped


def json_body(request: HttpRequest, *, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The request's JSON object; anything else is refused (400/413/415) before it is read into memory."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > max_bytes:
        raise ScanRefused("too_large", f"The request is larger than {max_bytes} bytes.", status=413)
    if request.content_type != "application/json":
        raise ScanRefused("bad_request", "Send JSON (Content-Type: application/json).", status=415)
    try:
        data = json.loads(request.body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ScanRefused("bad_request", "The request body is not valid JSON.", status=400) from None
    if not isinstance(data, dict):
        raise ScanRefused("bad_request", "The request body must be a JSON object.", status=400)
    return data


def _answer(answer: ScanAnswer) -> JsonResponse:
    response = JsonResponse(answer.body, status=answer.status)
    if answer.replayed:
        response["X-Scan-Replayed"] = "true"
    return response


def scan_endpoint(action: Callable[[HttpRequest, dict[str, Any]], ScanAnswer]) -> Callable:
    """POST, logged in, JSON in and out; refusals become their 4xx answer."""

    @never_cache
    @require_POST
    @api_login_required
    @wraps(action)
    def view(request: HttpRequest) -> JsonResponse:
        try:
            return _answer(action(request, json_body(request)))
        except ScanRefused as refusal:
            return JsonResponse(refusal.body(), status=refusal.status)

    return view


@scan_rate_limit  # SCAN_RATE_LIMIT per user (600/min): far above any scanner, far below a runaway client
@scan_endpoint
def open_parent(request: HttpRequest, data: dict[str, Any]) -> ScanAnswer:
    return services.open_parent(user=request.user, raw_code=data.get("code"), client_scan_id=data.get("client_scan_id"))


@scan_rate_limit
@scan_endpoint
def scan_child(request: HttpRequest, data: dict[str, Any]) -> ScanAnswer:
    return services.scan_child(
        user=request.user,
        parent_code=data.get("parent"),
        raw_code=data.get("code"),
        client_scan_id=data.get("client_scan_id"),
    )


@scan_rate_limit
@scan_endpoint
def undo(request: HttpRequest, data: dict[str, Any]) -> ScanAnswer:
    return services.undo_last_scan(
        user=request.user, client_scan_id=data.get("client_scan_id"), scan_id=data.get("scan_id"), request=request
    )


@scan_rate_limit
@scan_endpoint
def complete(request: HttpRequest, data: dict[str, Any]) -> ScanAnswer:
    return services.complete_parent(
        user=request.user, parent_code=data.get("parent"), client_scan_id=data.get("client_scan_id")
    )


@never_cache
@require_GET
@api_login_required
def recent(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"scans": selectors.recent_scans(request.user)})


@never_cache
@require_GET
@api_login_required
def bag_lookup(request: HttpRequest, code: str) -> JsonResponse:
    try:
        found = selectors.lookup_bag(user=request.user, code=code)
    except qr.QRCodeError as error:
        return _error(422, error.code, error.message)
    if found is None:
        return _error(404, "unknown_bag", f"No bag {code.strip().upper()} that you can see.")
    return JsonResponse({"ok": True, **found})
