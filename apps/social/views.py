"""The agent form to log a letter, certified e-mail or phone call by hand."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from apps.accounts import roles
from apps.core.exceptions import ApplicationError
from apps.tickets import policies

from . import selectors, services
from .forms import ContactLogForm


def _may_log(user) -> bool:
    return roles.is_admin(user) or user.has_perm("tickets.log_contact")


@login_required
def contact_log(request):
    if not _may_log(request.user):
        raise PermissionDenied
    form = ContactLogForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            outcome = services.contact_log(
                actor=request.user, kind=data["kind"], text=data["text"], received_at=data["received_at"],
                subject=data["subject"], name=data["name"], email=data["email"], phone=data["phone"],
                ticket=data["ticket_reference"], is_formal_complaint=data["is_formal_complaint"],
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            ticket = outcome.ticket
            if policies.can_view(ticket, request.user):
                messages.success(request, _("Logged in %(ref)s.") % {"ref": ticket.reference})
                return redirect(ticket)
            messages.success(request, _("Logged in %(ref)s, which went to %(team)s.") % {
                "ref": ticket.reference, "team": ticket.team or _("no team"),
            })
            return redirect("intake:log")
    return TemplateResponse(request, "social/intake.html", {
        "form": form, "recent": selectors.contacts_logged_recently(request.user),
    })
