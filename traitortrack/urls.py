from django.contrib import admin
from django.urls import include, path

from traitortrack import views

handler500 = views.server_error

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("health", views.health, name="health"),
    path("ready", views.ready, name="ready"),
    path("api/openapi.json", views.openapi_schema, name="openapi"),
    path("accounts/", include("accounts.urls")),
    path("", include("scanning.urls")),
    path("", include("bills.urls")),
    path("", include("bags.urls")),
    path("admin/", admin.site.urls),
]
