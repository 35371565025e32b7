"""The pages over the whole warehouse: home, the dashboard, search, the admins' system page, and the API
document. (The probes are traitortrack.health's, the error handlers traitortrack.edge's.)"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from overview.dashboard import dashboard_stats
from overview.openapi import document
from overview.search import SearchForm, run_search
from overview.system import system_status
from traitortrack.permissions import ADMIN, LOGGED_IN, PUBLIC, access
from traitortrack.replica import reads_replica


@access(LOGGED_IN)
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


@access(LOGGED_IN)
@require_GET
@reads_replica
def dashboard(request: HttpRequest) -> HttpResponse:
    """The figures in the page (it works without JavaScript), then refreshed by static/js/dashboard.js."""
    context = {
        "stats": dashboard_stats(request.user),
        "stats_url": reverse("dashboard-stats"),
        "refresh_seconds": settings.DASHBOARD_REFRESH_SECONDS,
    }
    return render(request, "dashboard.html", context)


@access(LOGGED_IN, unattended=True)  # the page's own refresh: it does not put the idle logout off
@never_cache
@require_GET
@reads_replica
def dashboard_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(dashboard_stats(request.user))


@access(LOGGED_IN)
@require_GET
@reads_replica
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


@access(ADMIN)
@never_cache
@require_GET
def system(request: HttpRequest) -> HttpResponse:
    """The admins' system page: database, cache, workers' requests and errors."""
    return render(request, "system.html", {"status": system_status()})


@access(PUBLIC)
@require_GET
def openapi_schema(request: HttpRequest) -> JsonResponse:
    """The API's OpenAPI 3 description, public like any API document (it holds no data)."""
    return JsonResponse(document(request.build_absolute_uri("/")))
