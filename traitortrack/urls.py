from django.contrib import admin
from django.urls import include, path

from traitortrack import edge, views

handler400 = edge.bad_request
handler403 = edge.permission_denied
handler404 = edge.page_not_found
handler500 = edge.server_error

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("api/dashboard", views.dashboard_json, name="dashboard-stats"),
    path("search/", views.search, name="search"),
    path("health", views.health, name="health"),
    path("ready", views.ready, name="ready"),
    path("system/", views.system, name="system"),
    path("api/openapi.json", views.openapi_schema, name="openapi"),
    path("accounts/", include("accounts.urls")),
    path("", include("scanning.urls")),
    path("", include("bills.urls")),
    path("", include("bags.urls")),
    path("", include("exports.urls")),
    path("admin/", admin.site.urls),
]
