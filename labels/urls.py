from django.urls import path

from labels import views

app_name = "labels"

urlpatterns = [
    path("labels/", views.labels_page, name="labels"),
    path("labels/commands/", views.command_sheet, name="commands"),
    path("labels/commands.pdf", views.command_sheet_download, name="commands-pdf"),
]
