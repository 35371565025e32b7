from django.urls import path

from reports import views

app_name = "reports"

urlpatterns = [
    path("reports/", views.report_page, name="report"),
    path("reports/report.csv", views.report_csv, name="report-csv"),
    path("reports/report.xlsx", views.report_xlsx, name="report-xlsx"),
    path("reports/exceptions/", views.exceptions_page, name="exceptions"),
    path("reports/summary/", views.summary_page, name="summary"),
]
