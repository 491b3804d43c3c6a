from django.urls import path

from . import views

app_name = "core"
urlpatterns = [
    path("", views.home, name="home"),
    path("help/workflow/", views.workflow_help, name="workflow-help"),
    path("help/workflow.svg", views.workflow_svg, name="workflow-svg"),
    path("healthz", views.healthz, name="healthz"),
]
