from django.urls import path

from returns import api, views

app_name = "returns"

urlpatterns = [
    path("returns/", views.ticket_list, name="list"),
    path("returns/new/", views.ticket_create, name="create"),
    path("returns/<int:pk>/", views.ticket_detail, name="detail"),
    path("returns/<int:pk>/parents/add/", views.parent_add, name="parent-add"),
    path("returns/<int:pk>/parents/remove/", views.parent_remove, name="parent-remove"),
    path("returns/<int:pk>/commit/", views.ticket_commit, name="commit"),
    path("returns/<int:pk>/cancel/", views.ticket_cancel, name="cancel"),
    path("returns/<int:pk>/note/", views.return_note, name="note"),
    path("returns/<int:pk>/export.csv", views.export_csv, name="export-csv"),
    path("returns/<int:pk>/export.xlsx", views.export_xlsx, name="export-xlsx"),
    path("api/returns", api.tickets, name="api-tickets"),
    path("api/returns/<int:ticket_id>", api.ticket, name="api-ticket"),
    path("api/returns/<int:ticket_id>/parents", api.add_parent, name="api-parents"),
    path("api/returns/<int:ticket_id>/parents/<str:code>", api.remove_parent, name="api-parent"),
    path("api/returns/<int:ticket_id>/commit", api.commit, name="api-commit"),
    path("api/returns/<int:ticket_id>/cancel", api.cancel, name="api-cancel"),
]
