"""Department workspaces: each department's queue of escalated tickets, and what it does with them."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.core.exceptions import ApplicationError
from apps.tickets.selectors import ticket_get_for_user

from . import forms, selectors, services

QUEUE = "departments/queue.html"


@login_required
@require_GET
def department_list(request):
    departments = selectors.departments_for_user(request.user)
    counts = selectors.department_counts(request.user, departments)
    rows = [(d, counts.get(d.pk, 0)) for d in departments]
    return TemplateResponse(request, "departments/list.html", {"rows": rows})


def _queue_context(request, department, **extra) -> dict:
    return {
        "department": department,
        "tickets": selectors.department_queue(request.user, department),
        "routes": list(department.routes.order_by("name")),
        **extra,
    }


@login_required
@require_GET
def department_queue(request, slug: str):
    department = selectors.department_get_for_user(request.user, slug)
    template = f"{QUEUE}#dept-queue" if request.htmx else QUEUE
    return TemplateResponse(request, template, _queue_context(request, department))


ACTIONS = {"guidance", "transfer", "return"}


@login_required
@require_POST
def department_action(request, slug: str, pk: int, action: str):
    """Write guidance for care, transfer to another department, or return the ticket to care."""
    if action not in ACTIONS:
        raise Http404("No such action")
    department = selectors.department_get_for_user(request.user, slug)
    ticket = ticket_get_for_user(request.user, pk)
    error, status, done = "", 200, ""
    try:
        if action == "guidance":
            form = forms.GuidanceForm(request.POST)
            if not form.is_valid():
                raise ApplicationError(_("Write the guidance first."))
            services.department_guidance_add(ticket=ticket, department=department, author=request.user,
                                             body=form.cleaned_data["body"])
            done = _("Guidance added to %(ref)s.") % {"ref": ticket.reference}
        else:
            form = forms.DepartmentTransitionForm(request.POST, department=department)
            if not form.is_valid():
                if "to" in form.errors:
                    raise ApplicationError(_("Choose a department this one may transfer to."))
                raise ApplicationError(_("Please give a reason."))
            if action == "transfer":
                if form.cleaned_data["to"] is None:
                    raise ApplicationError(_("Choose a department this one may transfer to."))
                services.department_transfer(
                    ticket=ticket, department=department, actor=request.user,
                    to=form.cleaned_data["to"], reason=form.cleaned_data["reason"],
                    expected_version=form.cleaned_data["version"],
                )
                done = _("%(ref)s transferred to %(dept)s.") % {
                    "ref": ticket.reference, "dept": form.cleaned_data["to"]}
            else:
                services.department_return(
                    ticket=ticket, department=department, actor=request.user,
                    guidance=form.cleaned_data["reason"], expected_version=form.cleaned_data["version"],
                )
                done = _("%(ref)s returned to care with your guidance.") % {"ref": ticket.reference}
    except ApplicationError as exc:
        error, status = exc.message, exc.status_code
    if not request.htmx:
        if error:
            messages.error(request, error)
            return TemplateResponse(request, QUEUE, _queue_context(request, department), status=status)
        messages.success(request, done)
        return redirect("departments:queue", slug=department.slug)
    response = TemplateResponse(
        request, f"{QUEUE}#dept-queue",
        _queue_context(request, department, queue_error=error, queue_done=done), status=status,
    )
    if not error:
        response["HX-Trigger"] = "ticketChanged"
    return response
