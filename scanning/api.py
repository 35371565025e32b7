"""The JSON scan API: used by the scan page, usable by other scanner apps (described in scanning/openapi.py).

Session authentication; POSTs need the CSRF token in the X-CSRFToken header. Every answer is JSON,
including the refusals (a 4xx with a stable ``code`` and a plain ``message``), a missing session (401,
so an offline queue knows to wait for the next login) and a body that is not what we expect (400/413/415):
traitortrack.edge answers every error.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.ratelimits import scan_rate_limit
from scanning import selectors, services
from scanning.services import ScanAnswer
from traitortrack.edge import json_body
from traitortrack.permissions import BILLER, LOGGED_IN, access


def _answer(answer: ScanAnswer) -> JsonResponse:
    response = JsonResponse(answer.body, status=answer.status)
    if answer.replayed:
        response["X-Scan-Replayed"] = "true"
    return response


def scan_endpoint(action: Callable[..., ScanAnswer], *, who=LOGGED_IN) -> Callable:
    """POST, any role (or ``who``), JSON in and out (a refusal the service raises is answered by
    traitortrack.edge)."""

    @access(who)
    @never_cache
    @require_POST
    @wraps(action)
    def view(request: HttpRequest, **kwargs: Any) -> JsonResponse:
        return _answer(action(request, json_body(request), **kwargs))

    return view


@scan_rate_limit  # SCAN_RATE_LIMIT per user (600/min): far above any scanner, far below a runaway client
@scan_endpoint
def open_parent(request: HttpRequest, data: dict[str, Any]) -> ScanAnswer:
    return services.open_parent(
        user=request.user,
        raw_code=data.get("code"),
        client_scan_id=data.get("client_scan_id"),
        scanned_at=data.get("scanned_at"),
        area_id=data.get("area_id"),
    )


@scan_rate_limit
@scan_endpoint
def scan_child(request: HttpRequest, data: dict[str, Any]) -> ScanAnswer:
    return services.scan_child(
        user=request.user,
        parent_code=data.get("parent"),
        raw_code=data.get("code"),
        client_scan_id=data.get("client_scan_id"),
        scanned_at=data.get("scanned_at"),
    )


@scan_rate_limit
@scan_endpoint
def move(request: HttpRequest, data: dict[str, Any]) -> ScanAnswer:
    return services.move_child(
        user=request.user,
        raw_code=data.get("code"),
        parent_code=data.get("parent"),
        client_scan_id=data.get("client_scan_id"),
        scanned_at=data.get("scanned_at"),
    )


@scan_rate_limit
@scan_endpoint
def undo(request: HttpRequest, data: dict[str, Any]) -> ScanAnswer:
    return services.undo_last_scan(
        user=request.user,
        client_scan_id=data.get("client_scan_id"),
        scan_id=data.get("scan_id"),
        request=request,
        scanned_at=data.get("scanned_at"),
    )


@scan_rate_limit
@scan_endpoint
def complete(request: HttpRequest, data: dict[str, Any]) -> ScanAnswer:
    return services.complete_parent(
        user=request.user,
        parent_code=data.get("parent"),
        client_scan_id=data.get("client_scan_id"),
        scanned_at=data.get("scanned_at"),
    )


def unlink(request: HttpRequest, data: dict[str, Any], code: str) -> ScanAnswer:
    return services.supervisor_unlink(
        user=request.user,
        child_code=code,
        reason=data.get("reason"),
        client_scan_id=data.get("client_scan_id"),
        request=request,
    )


# Billers and admins only: a supervisor's correction (the bag page offers it too).
unlink = scan_rate_limit(scan_endpoint(unlink, who=BILLER))


@access(LOGGED_IN)
@never_cache
@require_GET
def recent(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"scans": selectors.recent_scans(request.user)})
