from django.urls import path

from bags import views

app_name = "bags"

urlpatterns = [
    path("bags/<str:code>/", views.bag_detail, name="detail"),
]
