"""SLA pages: flag or classify a formal complaint (the regulator's clock). Thin: the service
decides, the selector reads."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from apps.core.exceptions import ApplicationError
from apps.tickets.selectors import ticket_get_for_user

from . import selectors, services
from .forms import FormalComplaintForm


@login_required
@require_http_methods(["GET", "POST"])
def formal_complaint(request, pk: int):
    """GET: the ticket's clocks and the classification form. POST: set it, back to the ticket.

    An HTMX post gets the panel back instead of a redirect.
    """
    ticket = ticket_get_for_user(request.user, pk)
    status, error = 200, None
    if request.method == "POST":
        form = FormalComplaintForm(request.POST)
        if not form.is_valid():
            status, error = 400, _("Choose one of the listed categories.")
        elif form.cleaned_data["version"] != ticket.version:
            status, error = 409, _("This ticket was changed by someone else. Reload it and try again.")
        else:
            try:
                ticket = services.ticket_formal_complaint_set(
                    ticket=ticket, category=form.cleaned_data["category"], actor=request.user
                )
            except ApplicationError as exc:
                status, error = exc.status_code, exc.message
            else:
                if not request.htmx:
                    messages.success(request, _("Saved. The regulator's deadline follows the category."))
                    return redirect(ticket)
                form = FormalComplaintForm(initial=_initial(ticket))
    else:
        form = FormalComplaintForm(initial=_initial(ticket))
    context = {
        "ticket": ticket, "form": form, "error": error, "clocks": selectors.ticket_clocks(ticket),
    }
    template = "sla/formal_complaint.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#formal-complaint-panel"
    return TemplateResponse(request, template, context, status=status)


def _initial(ticket) -> dict:
    return {"category": ticket.complaint_category, "version": ticket.version}
