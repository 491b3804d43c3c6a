from django.urls import path

from . import apis

app_name = "api-social"
urlpatterns = [
    path("inbound/", apis.inbound_create, name="inbound-create"),
]
