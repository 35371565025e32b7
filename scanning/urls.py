from django.urls import path

from scanning import api, views

app_name = "scanning"

urlpatterns = [
    path("scan/", views.scan_page, name="scan"),
    path("scan/lookup/", views.lookup_page, name="lookup"),
    path("scan/offline/", views.offline_page, name="offline"),
    path("sw.js", views.service_worker, name="service-worker"),
    path("manifest.webmanifest", views.web_manifest, name="web-manifest"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("api/scan/parent", api.open_parent, name="api-parent"),
    path("api/scan/child", api.scan_child, name="api-child"),
    path("api/scan/move", api.move, name="api-move"),
    path("api/scan/undo", api.undo, name="api-undo"),
    path("api/scan/complete", api.complete, name="api-complete"),
    path("api/scan/recent", api.recent, name="api-recent"),
    path("api/bags/<str:code>/unlink", api.unlink, name="api-unlink"),
]
