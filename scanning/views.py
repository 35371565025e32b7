"""The dispatcher's pages: the scan page (its scans go to scanning.api from static/js/scan.js) and bag lookup
(the bag page, with its whole story, is tracking's)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET

from accounts.middleware import session_deadlines
from bags.qr import QRCodeError
from scanning import selectors
from traitortrack.middleware import camera_page
from traitortrack.permissions import LOGGED_IN, access


@access(LOGGED_IN)
@require_GET
@ensure_csrf_cookie  # scan.js reads the csrftoken cookie for its POSTs; the page has no form that would set it
@camera_page
def scan_page(request: HttpRequest) -> HttpResponse:
    config = selectors.scan_page_context(request.user, session=session_deadlines(request.session))
    return render(request, "scanning/scan.html", {"scan_config": config})


@access(LOGGED_IN)
@require_GET
def lookup_page(request: HttpRequest) -> HttpResponse:
    code = request.GET.get("code", "").strip()
    detail, error, status = None, None, 200
    if code:
        try:
            detail = selectors.bag_detail(user=request.user, code=code)
        except QRCodeError as refusal:
            error, status = refusal.message, 400
        else:
            status = 200 if detail else 404
    context = {"code": code, "detail": detail, "error": error}
    if detail:
        context["scans"] = selectors.scan_history(detail.scans)
    return render(request, "scanning/lookup.html", context, status=status)
