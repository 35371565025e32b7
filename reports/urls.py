from django.urls import path

from reports import views

app_name = "reports"

urlpatterns = [
    path("reports/exceptions/", views.exceptions_page, name="exceptions"),
    path("reports/summary/", views.summary_page, name="summary"),
]
