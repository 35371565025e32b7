"""The dispatcher's pages: the scan page (its scans go to scanning.api from static/js/scan.js) and bag lookup
(the bag page, with its whole story, is tracking's)."""

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET

from accounts.middleware import session_deadlines
from bags.qr import QRCodeError
from scanning import selectors, shell
from traitortrack.middleware import camera_page
from traitortrack.permissions import LOGGED_IN, PUBLIC, access


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


# The offline shell (scanning/shell.py). Public and unattended: the browser fetches them by itself, for anyone,
# and its update checks must not put off the idle logout.
@access(PUBLIC, otp_exempt=True, unattended=True)
@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(shell.worker_script(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"  # each load asks whether a new release is out
    return response


@access(PUBLIC, otp_exempt=True, unattended=True)
@require_GET
def web_manifest(request: HttpRequest) -> HttpResponse:
    return JsonResponse(shell.web_manifest(), content_type="application/manifest+json")


@access(PUBLIC, otp_exempt=True, unattended=True)
@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico by themselves (pages name icons/favicon.svg): the icon's static file,
    by a temporary redirect, since its hashed name changes with a release."""
    response = HttpResponseRedirect(static("icons/favicon.ico"))
    response["Cache-Control"] = "max-age=86400"
    return response


@access(PUBLIC, otp_exempt=True, unattended=True)
@require_GET
def offline_page(request: HttpRequest) -> HttpResponse:
    """What the service worker shows for a page it does not keep when there is no network; no user's data."""
    return render(request, "scanning/offline.html")
