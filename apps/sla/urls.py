from django.urls import path

from . import views

app_name = "sla"
urlpatterns = [
    path("tickets/<int:pk>/formal-complaint/", views.formal_complaint, name="formal-complaint"),
]
