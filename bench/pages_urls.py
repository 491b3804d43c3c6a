"""The application's URLs plus /bench/floor/: the framework floor the pages are compared with."""

from django.http import HttpResponse
from django.template.loader import render_to_string
from django.urls import include, path

from apps.tickets.models import Ticket


def floor(request):
    """The least a Django page can do: one query for 50 rows, one template, the same middleware.

    Rendered without the request, so none of the application's context processors (navigation
    roles, unread notifications) run: those are the application's cost, not the framework's."""
    rows = Ticket.objects.select_related("channel", "customer").order_by("-pk")[:50]
    return HttpResponse(render_to_string("bench/floor.html", {"rows": rows}))


urlpatterns = [
    path("bench/floor/", floor),
    path("", include("caretickets.urls")),
]
