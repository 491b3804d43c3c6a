from django.urls import path

from . import webhooks

app_name = "social"
urlpatterns = [
    path("x/<slug:slug>/", webhooks.x_webhook, name="x"),
    path("meta/<slug:slug>/", webhooks.meta_webhook, name="meta"),
    path("linkedin/<slug:slug>/", webhooks.linkedin_webhook, name="linkedin"),
    path("email/<slug:slug>/", webhooks.email_webhook, name="email"),
]
