"""Project-wide views: the home page, the dashboard, search, the health probes and system page, the API
document and the error handlers."""

import sys

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.csrf import csrf_failure as html_csrf_failure
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.defaults import server_error as html_server_error
from psycopg import OperationalError as DatabaseUnavailable

from scanning.api import api_login_required
from traitortrack.dashboard import dashboard_stats
from traitortrack.openapi import document
from traitortrack.search import SearchForm, run_search
from traitortrack.system import readiness, system_status


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


@require_GET
@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The figures in the page (it works without JavaScript), then refreshed by static/js/dashboard.js."""
    context = {
        "stats": dashboard_stats(request.user),
        "stats_url": reverse("dashboard-stats"),
        "refresh_seconds": settings.DASHBOARD_REFRESH_SECONDS,
    }
    return render(request, "dashboard.html", context)


@never_cache
@require_GET
@api_login_required
def dashboard_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(dashboard_stats(request.user))


@require_GET
@login_required
def search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET, user=request.user)
    result = run_search(form)
    filters = form.values()
    context = {
        "form": form,
        "result": result,
        "filter_fields": form.filter_fields(),
        "filtered": bool(set(filters) - {"show", "after"}),
        "paged": "after" in filters,
    }
    return render(request, "search.html", context)


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Touches neither the database nor the cache."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    """Readiness: the database answers (503 if not). The cache is reported but optional: pages, logins and
    scans work without Redis (the default cache ignores its errors), so a Redis outage is no reason for the
    load balancer to take the app out."""
    checks = readiness()
    ok = checks["database"] == "ok"
    return JsonResponse({"status": "ok" if ok else "unavailable", **checks}, status=200 if ok else 503)


@never_cache
@require_GET
@login_required
def system(request: HttpRequest) -> HttpResponse:
    """The admins' system page (traitortrack.permissions: ADMIN)."""
    return render(request, "system.html", {"status": system_status()})


@require_GET
def openapi_schema(request: HttpRequest) -> JsonResponse:
    """The API's OpenAPI 3 description, public like any API document (it holds no data)."""
    return JsonResponse(document(request.build_absolute_uri("/")))


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """The API answers in JSON, so a scanner app (or the scan page's queue) can tell a CSRF refusal,
    usually a session that ended, from a refused scan; pages get Django's usual page."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {
                "ok": False,
                "code": "csrf_failed",
                "message": "Your session has ended or the page is out of date. Log in again; waiting scans are kept.",
                "parent": None,
                "scan": None,
            },
            status=403,
        )
    return html_csrf_failure(request, reason)


def _database_busy() -> bool:
    """Whether the error being handled is the database being out of reach for a moment, which is worth a
    retry, unlike a bug: the pool ran out of connections (a burst of requests), or a connection broke (a
    PostgreSQL restart, until traitortrack.dbpool replaces the pool's), or PostgreSQL gave up on a
    statement (deadlock, serialization failure, statement timeout: psycopg's OperationalError)."""
    error = sys.exc_info()[1]
    while error is not None:
        if isinstance(error, DatabaseUnavailable):  # psycopg_pool's PoolTimeout is one too
            return True
        error = error.__cause__ or error.__context__
    return False


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 handler. A database too busy or briefly out of reach is a 503 with Retry-After (the scan
    page keeps the scan queued and sends it again; its client id makes the retry safe); the API answers
    in JSON either way, so a scanner app never has to read an HTML page."""
    busy = _database_busy()
    if request.path.startswith("/api/"):
        message = "The server is busy. The scan was not recorded; send it again." if busy else "Server error."
        response = JsonResponse(
            {"ok": False, "code": "busy" if busy else "server_error", "message": message, "parent": None, "scan": None},
            status=503 if busy else 500,
        )
    elif busy:
        response = HttpResponse(
            "<!doctype html><title>Busy</title><h1>The server is busy</h1><p>Try again in a moment.</p>",
            status=503,
        )
    else:
        return html_server_error(request)
    if busy:
        response["Retry-After"] = "2"
    return response
