from django.urls import path

from tracking import api, list_views, views

app_name = "tracking"

urlpatterns = [
    path("bags/", list_views.bag_list, name="bag-list"),
    path("bag-actions/", list_views.bag_action, name="bag-action"),
    path("bags/<str:code>/", views.bag_page, name="bag"),
    path("bags/<str:code>/delete/", views.delete_bag, name="delete"),
    path("bags/<str:code>/unlink/", views.unlink_child, name="unlink"),
    path("api/bags/<str:code>", api.bag_lookup, name="api-bag"),
    path("api/bags/<str:code>/story", api.bag_story, name="api-story"),
]
