from django.urls import path

from tracking import list_views

app_name = "tracking"

urlpatterns = [
    path("bags/", list_views.bag_list, name="bag-list"),
    path("bag-actions/", list_views.bag_action, name="bag-action"),
]
