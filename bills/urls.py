from django.urls import path

from bills import api, views

app_name = "bills"

urlpatterns = [
    path("bills/", views.bill_list, name="list"),
    path("bills/new/", views.bill_create, name="create"),
    path("bills/<int:pk>/", views.bill_detail, name="detail"),
    path("bills/<int:pk>/edit/", views.bill_edit, name="edit"),
    path("bills/<int:pk>/finalise/", views.bill_finalise, name="finalise"),
    path("bills/<int:pk>/reopen/", views.bill_reopen, name="reopen"),
    path("bills/<int:pk>/parents/add/", views.parent_add, name="parent-add"),
    path("bills/<int:pk>/parents/remove/", views.parent_remove, name="parent-remove"),
    path("bills/<int:pk>/manifest/", views.manifest, name="manifest"),
    path("bills/<int:pk>/export.csv", views.export_csv, name="export-csv"),
    path("bills/<int:pk>/export.xlsx", views.export_xlsx, name="export-xlsx"),
    path("api/bills", api.bills, name="api-bills"),
    path("api/bills/<int:bill_id>", api.bill, name="api-bill"),
    path("api/bills/<int:bill_id>/parents", api.add_parent, name="api-parents"),
    path("api/bills/<int:bill_id>/parents/<str:code>", api.remove_parent, name="api-parent"),
    path("api/bills/<int:bill_id>/finalise", api.finalise, name="api-finalise"),
    path("api/bills/<int:bill_id>/reopen", api.reopen, name="api-reopen"),
]
