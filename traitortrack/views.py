"""Project-wide views: the home page and the health probes."""

import logging

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.csrf import csrf_failure as html_csrf_failure
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from traitortrack.openapi import document

logger = logging.getLogger(__name__)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Touches neither the database nor the cache."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    """Readiness: the database answers. The cache is reported but optional (pages work without it)."""
    checks = {"database": "ok", "cache": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        logger.exception("readiness check: database unreachable")
        checks["database"] = "unavailable"
    try:
        cache.set("ready-probe", "1", 5)
        if cache.get("ready-probe") != "1":
            checks["cache"] = "unavailable"
    except Exception:
        logger.exception("readiness check: cache unreachable")
        checks["cache"] = "unavailable"
    ok = checks["database"] == "ok"
    return JsonResponse({"status": "ok" if ok else "unavailable", **checks}, status=200 if ok else 503)


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
