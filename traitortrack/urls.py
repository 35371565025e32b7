"""The root URLs: each app's own, included by name, so the project base imports no app."""

from django.contrib import admin
from django.urls import include, path

from traitortrack import health, i18n

handler400 = "traitortrack.edge.bad_request"
handler403 = "traitortrack.edge.permission_denied"
handler404 = "traitortrack.edge.page_not_found"
handler500 = "traitortrack.edge.server_error"

urlpatterns = [
    path("health", health.health, name="health"),
    path("ready", health.ready, name="ready"),
    path("jsi18n/", i18n.JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("", include("overview.urls")),
    path("accounts/", include("accounts.urls")),
    path("", include("scanning.urls")),
    path("", include("bills.urls")),
    path("", include("returns.urls")),
    path("", include("tracking.urls")),
    path("", include("labels.urls")),
    path("", include("exports.urls")),
    path("", include("reports.urls")),
    path("admin/", admin.site.urls),
]
