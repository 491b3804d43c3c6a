from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

urlpatterns = [
    path("", include("apps.core.urls")),
    path("accounts/", include("apps.accounts.urls")),
    path("tickets/", include("apps.tickets.urls")),
    path("notifications/", include("apps.notifications.urls")),
    path("webhooks/", include("apps.social.urls")),
    path("triage/", include("apps.triage.urls")),
    path("sla/", include("apps.sla.urls")),
    path("replies/", include("apps.replies.urls")),
    path("departments/", include("apps.replies.urls_departments")),
    path("workspace/", include("apps.workspace.urls")),
    path("intake/", include("apps.social.urls_intake")),
    path("api/", include("apps.social.api_urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI from our static files (drf-spectacular-sidecar), its set-up script a request of
    # its own: the page needs no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("i18n/", include("django.conf.urls.i18n")),
]
