"""Ticket pages: the queue, the ticket page and its actions.

Thin: selectors read, services write. Partials are named blocks of the page templates; an HTMX
request renders only the block its target names, so every page also works as a plain page.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.functional import SimpleLazyObject, cached_property
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from apps.accounts.models import Department
from apps.core.exceptions import ApplicationError
from apps.replies.selectors import reply_page_context
from apps.sla.selectors import ticket_clocks
from apps.workspace import presence
from apps.workspace import selectors as workspace_selectors
from apps.workspace.forms import QueueFilterForm
from apps.workspace.presenters import queue_rows

from . import policies, selectors, services
from .models import Message

PAGE_SIZE = 50
DETAIL_PARTIALS = ("workflow-panel", "notes-panel", "thread")


class _CountedPaginator(Paginator):
    """A paginator told its count: the queue has counted every view in one query already."""

    def __init__(self, object_list, per_page, *, count: int):
        super().__init__(object_list, per_page)
        self._known_count = count

    @cached_property
    def count(self):
        return self._known_count


def _wants_partial(request) -> bool:
    """An HTMX swap wants a block; a history restore (back button) wants the whole page."""
    return bool(request.htmx) and not request.htmx.history_restore_request


@login_required
@require_safe
def ticket_list(request):
    """The queue: mine / my team's unassigned / all I may see, filtered, next deadline first."""
    user = request.user
    form = QueueFilterForm(request.GET, user=user)
    status = 200 if form.is_valid() else 400
    filters = form.filters()
    now = timezone.now()
    counts = workspace_selectors.queue_counts(user, filters, now=now)
    paginator = _CountedPaginator(
        workspace_selectors.queue_tickets(user, filters, now=now), PAGE_SIZE,
        count=counts[filters.view],
    )
    page = paginator.get_page(request.GET.get("page"))
    tickets = list(page.object_list)
    people = presence.presence_for_tickets([t.pk for t in tickets], exclude_user_id=user.pk)
    rows = queue_rows(tickets, now=now, presence=people)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "filters": filters,
        "counts": counts,
        "page": page,
        "rows": rows,
        "now": now,
        "query": query.urlencode(),
        "views": [(value, label, counts[value]) for value, label in form.fields["view"].choices],
    }
    template = "tickets/list.html#queue-rows" if _wants_partial(request) else "tickets/list.html"
    response = TemplateResponse(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


class TransitionForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(required=False, max_length=services.MAX_REASON, widget=forms.Textarea)
    department = forms.ModelChoiceField(queryset=Department.objects.none(), required=False)
    assignee = forms.ModelChoiceField(queryset=get_user_model().objects.none(), required=False)

    def __init__(self, *args, ticket, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = selectors.ticket_escalation_departments(ticket)
        self.fields["assignee"].queryset = selectors.ticket_assignable_users(ticket)


def _detail_context(request, ticket, *, full_page: bool = False, **extra) -> dict:
    """Everything the ticket page shows. Lazy: a partial only loads what its block uses.

    The reply composer and reply list (apps.replies) come in on the full page only; their
    own endpoints refresh them afterwards.
    """
    user = request.user

    def lazy(fn):
        return SimpleLazyObject(fn)

    history = lazy(lambda: selectors.customer_history(ticket, user))
    transitions = lazy(lambda: selectors.ticket_transitions_for_user(ticket, user))
    context = {
        "ticket": ticket,
        "transitions": transitions,
        "thread": lazy(lambda: list(selectors.ticket_thread(ticket))),
        "notes": lazy(lambda: list(selectors.ticket_notes(ticket))),
        "events": lazy(lambda: list(selectors.ticket_events(ticket))),
        "history": history,
        "identities": lazy(lambda: selectors.customer_identities(ticket)),
        "merge_targets": lazy(lambda: selectors.merge_targets(ticket, list(history))),
        "can_work": lazy(lambda: policies.can_work_care(ticket, user)),
        "departments": lazy(
            lambda: list(selectors.ticket_escalation_departments(ticket))
            if any(t.form == "escalate" for t in transitions) else []
        ),
        "transfer_targets": lazy(
            lambda: list(selectors.ticket_transfer_departments(ticket))
            if any(t.form == "transfer" for t in transitions) else []
        ),
        "assignable": lazy(lambda: list(selectors.ticket_assignable_users(ticket))),
        "others": lazy(lambda: presence.presence_for_ticket(ticket.pk, exclude_user_id=user.pk)),
        "clocks": lazy(lambda: ticket_clocks(ticket)),
        "presence_poll_seconds": presence.POLL_SECONDS,
        "reply_language": workspace_selectors.ticket_reply_language(ticket),
        "now": timezone.now(),
    }
    if full_page:
        context.update(reply_page_context(ticket, user))
        context["ticket"] = ticket
    context.update(extra)
    return context


def _partial(request, ticket, name: str, *, status: int = 200, trigger: str = "", **extra):
    response = TemplateResponse(
        request, f"tickets/detail.html#{name}", _detail_context(request, ticket, **extra), status=status
    )
    if trigger:
        response["HX-Trigger"] = trigger
    return response


@login_required
@require_safe
def ticket_detail(request, pk: int):
    ticket = selectors.ticket_get_for_user(request.user, pk)
    if _wants_partial(request) and request.htmx.target in DETAIL_PARTIALS:
        response = _partial(request, ticket, request.htmx.target)
    else:
        presence.presence_mark(ticket_id=ticket.pk, user=request.user)
        response = TemplateResponse(
            request, "tickets/detail.html", _detail_context(request, ticket, full_page=True)
        )
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def _refused_page(request, ticket, *, status: int, **extra):
    """A refused action without JavaScript: the ticket page again with the reason where the
    action was, what the user typed kept, and a status that says nothing was stored."""
    context = _detail_context(request, ticket, full_page=True, **extra)
    context["refused"] = extra.get("error") or extra.get("note_error")
    response = TemplateResponse(request, "tickets/detail.html", context, status=status)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def _gone_after_action(request, ticket_reference: str):
    """The user acted, and the ticket left their sight (e.g. escalated to a confidential department)."""
    messages.success(request, _("Done. %(ref)s is no longer visible to you.") % {"ref": ticket_reference})
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse("tickets:list")
        return response
    return redirect("tickets:list")


@login_required
@require_POST
def ticket_transition(request, pk: int, name: str):
    ticket = selectors.ticket_get_for_user(request.user, pk)
    form = TransitionForm(request.POST, ticket=ticket)
    error = None
    status = 200
    if not form.is_valid():
        error = _("The form was incomplete; reload the page and try again.")
        status = 400
    else:
        try:
            services.ticket_transition(
                ticket=ticket, transition=name, actor=request.user,
                reason=form.cleaned_data["reason"], expected_version=form.cleaned_data["version"],
                department=form.cleaned_data["department"], assignee=form.cleaned_data["assignee"],
            )
        except ApplicationError as exc:
            error = exc.message
            status = exc.status_code
    if not error:
        try:
            ticket = selectors.ticket_get_for_user(request.user, pk)
        except Http404:
            return _gone_after_action(request, ticket.reference)
    if not request.htmx:
        if error:
            return _refused_page(request, ticket, status=status, error=error)
        return redirect(ticket)
    return _partial(
        request, ticket, "workflow-panel", status=status, error=error,
        trigger="" if error else "ticketChanged",
    )


class NoteForm(forms.Form):
    # Only what the database could not store (a NUL character); the service judges the rest.
    body = forms.CharField(required=False, strip=False)


@login_required
@require_POST
def ticket_note_add(request, pk: int):
    ticket = selectors.ticket_get_for_user(request.user, pk)
    form = NoteForm(request.POST)
    body = request.POST.get("body", "")
    try:
        if not form.is_valid():
            raise ApplicationError(_("The note contains characters that cannot be stored."))
        services.note_add(ticket=ticket, author=request.user, body=form.cleaned_data["body"])
    except ApplicationError as exc:
        note_body = body.replace("\x00", "")
        if not request.htmx:
            return _refused_page(
                request, ticket, status=exc.status_code, note_error=exc.message, note_body=note_body
            )
        return _partial(
            request, ticket, "notes-panel", status=exc.status_code, note_error=exc.message,
            note_body=note_body,
        )
    if not request.htmx:
        messages.success(request, _("Note added."))
        return redirect(f"{ticket.get_absolute_url()}#notes-panel")
    return _partial(request, ticket, "notes-panel", trigger="notesChanged")


class MergeForm(forms.Form):
    into = forms.IntegerField(min_value=1, label=gettext_lazy("Merge into"))
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    target_version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    reason = forms.CharField(required=False, max_length=services.MAX_REASON, widget=forms.Textarea)


@login_required
@require_http_methods(["GET", "POST"])
def ticket_merge(request, pk: int):
    """GET: choose and confirm the ticket to merge into. POST: merge, then show the result."""
    ticket = selectors.ticket_get_for_user(request.user, pk)
    history = selectors.customer_history(ticket, request.user)
    candidates = selectors.merge_targets(ticket, history)
    form = MergeForm(request.POST if request.method == "POST" else request.GET or None)
    target = None
    error = None
    status = 200
    if form.is_bound and form.is_valid():
        target = next((t for t in candidates if t.pk == form.cleaned_data["into"]), None)
        if target is None:
            error, status = _("Choose one of this customer's open tickets."), 400
    elif form.is_bound:
        error, status = _("Choose one of this customer's open tickets."), 400
    if request.method == "POST" and target is not None:
        try:
            services.ticket_merge(
                source=ticket, target=target, actor=request.user,
                reason=form.cleaned_data["reason"],
                source_version=form.cleaned_data["version"],
                target_version=form.cleaned_data["target_version"],
            )
        except ApplicationError as exc:
            error, status = exc.message, exc.status_code
        else:
            messages.success(
                request,
                _("%(src)s was merged into %(dst)s and closed.")
                % {"src": ticket.reference, "dst": target.reference},
            )
            return redirect(target)
    context = {"ticket": ticket, "candidates": candidates, "target": target, "form": form, "error": error}
    return TemplateResponse(request, "tickets/merge.html", context, status=status)


class SplitForm(forms.Form):
    subject = forms.CharField(required=False, max_length=300, label=gettext_lazy("Subject of the new ticket"))
    reason = forms.CharField(
        required=False, max_length=services.MAX_REASON, widget=forms.Textarea(attrs={"rows": 2}),
        label=gettext_lazy("Why (for the audit trail)"),
    )


@login_required
@require_http_methods(["GET", "POST"])
def message_split(request, pk: int, message_pk: int):
    """GET: confirm splitting one customer message off. POST: create the new ticket and open it."""
    ticket = selectors.ticket_get_for_user(request.user, pk)
    message = get_object_or_404(
        Message.objects.select_related("author_identity", "channel"), pk=message_pk, ticket=ticket
    )
    first_line = (message.subject or message.body.strip().split("\n", 1)[0])[:300]
    error, status = None, 200
    if request.method == "POST":
        form = SplitForm(request.POST)
        if form.is_valid():
            try:
                new = services.message_split(
                    message=message, actor=request.user, subject=form.cleaned_data["subject"],
                    reason=form.cleaned_data["reason"],
                )
            except ApplicationError as exc:
                error, status = exc.message, exc.status_code
            else:
                messages.success(
                    request,
                    _("The message is now %(new)s, linked to %(old)s.")
                    % {"new": new.reference, "old": ticket.reference},
                )
                return redirect(new)
        else:
            error, status = _("Please check the form."), 400
    else:
        form = SplitForm(initial={"subject": first_line})
    context = {"ticket": ticket, "message": message, "form": form, "error": error}
    return TemplateResponse(request, "tickets/split.html", context, status=status)
