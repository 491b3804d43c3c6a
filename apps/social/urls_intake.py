from django.urls import path

from . import views

app_name = "intake"

urlpatterns = [
    path("log/", views.contact_log, name="log"),
]
