from django.urls import path

from overview import views

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("api/dashboard", views.dashboard_json, name="dashboard-stats"),
    path("search/", views.search, name="search"),
    path("system/", views.system, name="system"),
    path("api/openapi.json", views.openapi_schema, name="openapi"),
]
