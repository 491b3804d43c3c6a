"""The application's URLs plus /bench/floor/: the framework floor the pages are compared with."""

from django.template.response import TemplateResponse
from django.urls import include, path

from apps.tickets.models import Ticket


def floor(request):
    """The least a Django page can do: one query for 50 rows, one template, the same middleware."""
    rows = Ticket.objects.select_related("channel", "customer").order_by("-pk")[:50]
    return TemplateResponse(request, "bench/floor.html", {"rows": rows})


urlpatterns = [
    path("bench/floor/", floor),
    path("", include("caretickets.urls")),
]
