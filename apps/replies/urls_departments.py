from django.urls import path

from . import department_views as views

app_name = "departments"
urlpatterns = [
    path("", views.department_list, name="list"),
    path("<slug:slug>/", views.department_queue, name="queue"),
    path("<slug:slug>/tickets/<int:pk>/<slug:action>/", views.department_action, name="action"),
]
