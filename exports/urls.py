from django.urls import path

from exports import views

app_name = "exports"

urlpatterns = [
    path("exports/", views.index, name="index"),
    path("exports/bags", views.bags, name="bags"),
    path("exports/links", views.links, name="links"),
    path("exports/scans", views.scans, name="scans"),
    path("exports/bills", views.bills, name="bills"),
    path("exports/audit", views.audit, name="audit"),
    path("exports/bag-list", views.bag_list, name="bag-list"),
]
