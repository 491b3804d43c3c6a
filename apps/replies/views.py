"""Reply pages. Thin: selectors read, services write; partials are blocks of the templates,
rendered alone for HTMX, and every form works as a plain POST without JavaScript."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.exceptions import ApplicationError
from apps.tickets.models import Message
from apps.tickets.selectors import ticket_thread

from . import forms, policies, selectors, services
from .models import ApprovalPolicy, Reply, ReplyState, WatchTerm

COMPOSER = "replies/_composer.html"
REPLY_LIST = "replies/_ticket_replies.html"


def _next_url(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return target
    return default


def _page_url(ticket) -> str:
    return reverse("replies:ticket", args=[ticket.pk])


def _ticket_page(request, ticket, *, http_status: int = 200, **composer_kwargs) -> TemplateResponse:
    context = {
        "ticket": ticket,
        "thread": ticket_thread(ticket),
        **selectors.reply_composer_context(ticket, request.user, **composer_kwargs),
        **selectors.ticket_replies_context(ticket, request.user),
    }
    return TemplateResponse(request, "replies/ticket.html", context, status=http_status)


def _composer(request, ticket, *, http_status: int = 200, trigger: str = "", **kwargs) -> TemplateResponse:
    response = TemplateResponse(
        request, COMPOSER, selectors.reply_composer_context(ticket, request.user, **kwargs),
        status=http_status,
    )
    if trigger:
        response["HX-Trigger"] = trigger
    return response


def _reply_list(request, ticket, *, status: int = 200, error: str = "", trigger: str = ""):
    context = {**selectors.ticket_replies_context(ticket, request.user), "reply_list_error": error}
    response = TemplateResponse(request, REPLY_LIST, context, status=status)
    if trigger:
        response["HX-Trigger"] = trigger
    return response


# --- the ticket's reply page and its parts ------------------------------------------------


@login_required
@require_GET
def ticket_replies_page(request, ticket_id: int):
    """The ticket's replies and the composer on one page (also the no-JavaScript fallback)."""
    ticket = selectors.ticket_get_for_composer(request.user, ticket_id)
    return _ticket_page(request, ticket)


@login_required
@require_GET
def composer(request, ticket_id: int):
    ticket = selectors.ticket_get_for_composer(request.user, ticket_id)
    if not request.htmx:
        return redirect(_page_url(ticket))
    return _composer(request, ticket)


@login_required
@require_GET
def reply_list(request, ticket_id: int):
    ticket = selectors.ticket_get_for_composer(request.user, ticket_id)
    if not request.htmx:
        return redirect(_page_url(ticket))
    return _reply_list(request, ticket)


@login_required
@require_POST
def composer_check(request, ticket_id: int):
    """As the author types: does this text need approval, and is it safe to post in public?"""
    ticket = selectors.ticket_get_for_composer(request.user, ticket_id)
    if not policies.can_compose(ticket, request.user):
        raise PermissionDenied
    form = forms.ComposerForm(request.POST, ticket=ticket)
    form.is_valid()
    body = (form.cleaned_data.get("body") or request.POST.get("body", ""))[: selectors.MAX_BODY]
    context = selectors.reply_composer_context(
        ticket, request.user, body=body, is_public=form.is_public,
        in_reply_to=form.cleaned_data.get("in_reply_to"),
    )
    return TemplateResponse(request, f"{COMPOSER}#check-response", context)


def _draft_for(form, ticket, user) -> Reply | None:
    pk = form.cleaned_data.get("reply")
    if not pk:
        return None
    reply = Reply.objects.filter(pk=pk, ticket=ticket, author=user).first()
    if reply is None:
        raise Http404("No such draft")
    return reply


def _composer_error(request, ticket, form, exc: ApplicationError, *, draft=None):
    kwargs = {
        "body": form.cleaned_data.get("body", ""), "is_public": form.is_public,
        "wait_for_customer": form.cleaned_data.get("wait_for_customer", False),
        "in_reply_to": form.cleaned_data.get("in_reply_to"), "error": exc.message,
        "findings": exc.extra.get("findings", []), "draft": draft,
    }
    if request.htmx:
        return _composer(request, ticket, http_status=exc.status_code, **kwargs)
    return _ticket_page(request, ticket, http_status=exc.status_code, **kwargs)


@login_required
@require_POST
def reply_send(request, ticket_id: int):
    """Create (or take the author's draft) and send it on: to approval, or straight to publishing."""
    ticket = selectors.ticket_get_for_composer(request.user, ticket_id)
    form = forms.ComposerForm(request.POST, ticket=ticket)
    if not form.is_valid():
        return _composer_error(request, ticket, form, ApplicationError(
            _("The reply could not be read: %(err)s") % {"err": "; ".join(
                str(e) for errs in form.errors.values() for e in errs)}))
    draft = _draft_for(form, ticket, request.user)
    try:
        reply = services.reply_send(
            ticket=ticket, author=request.user, body=form.cleaned_data["body"],
            is_public=form.is_public, wait_for_customer=form.cleaned_data["wait_for_customer"],
            in_reply_to=form.cleaned_data["in_reply_to"], reply=draft,
        )
    except ApplicationError as exc:
        return _composer_error(request, ticket, form, exc, draft=draft)
    if reply.state == ReplyState.AWAITING_APPROVAL:
        done = _("Sent for approval. You will be notified when a reviewer has decided.")
    else:
        done = _("Queued for publishing.")
    if not request.htmx:
        messages.success(request, done)
        return redirect(_next_url(request, _page_url(ticket)))
    return _composer(request, ticket, status=done, body="", draft=None,
                     trigger="repliesChanged, ticketChanged, replySent")


@login_required
@require_POST
def reply_draft(request, ticket_id: int):
    """Save the text as the author's draft; "switch to private" saves it as a private message."""
    ticket = selectors.ticket_get_for_composer(request.user, ticket_id)
    form = forms.ComposerForm(request.POST, ticket=ticket)
    if not form.is_valid():
        return _composer_error(request, ticket, form, ApplicationError(_("The draft could not be read.")))
    draft = _draft_for(form, ticket, request.user)
    fields = {"body": form.cleaned_data["body"], "is_public": form.is_public,
              "wait_for_customer": form.cleaned_data["wait_for_customer"],
              "in_reply_to": form.cleaned_data["in_reply_to"]}
    try:
        if draft is None:
            draft = services.reply_create(ticket=ticket, author=request.user, **fields)
        else:
            draft = services.reply_update(reply=draft, author=request.user, **fields)
    except ApplicationError as exc:
        return _composer_error(request, ticket, form, exc, draft=draft)
    if form.cleaned_data["make_private"]:
        done = _("Switched to a private message: check the text, then send.")
    else:
        done = _("Draft saved.")
    if not request.htmx:
        messages.success(request, done)
        return redirect(_next_url(request, _page_url(ticket)))
    return _composer(request, ticket, status=done, draft=draft, trigger="repliesChanged")


REPLY_ACTIONS = {"recall", "withdraw", "retry", "confirm"}


@login_required
@require_POST
def reply_action(request, pk: int, action: str):
    """The author's and the team's actions on an existing reply, from the ticket page."""
    if action not in REPLY_ACTIONS:
        raise Http404("No such action")
    reply = selectors.reply_get_for_user(request.user, pk)
    ticket = reply.ticket
    trigger = "ticketChanged, threadChanged"
    try:
        if action == "recall":
            services.reply_recall(reply=reply, actor=request.user)
            trigger += ", replyComposerReload"
            done = _("Recalled: the reply is a draft again, in your composer.")
        elif action == "withdraw":
            form = forms.WithdrawForm(request.POST)
            form.is_valid()
            services.reply_withdraw(reply=reply, actor=request.user,
                                    reason=form.cleaned_data.get("reason", ""))
            trigger += ", replyComposerReload"
            done = _("Withdrawn.")
        elif action == "retry":
            form = forms.RetryForm(request.POST)
            form.is_valid()
            services.reply_retry(reply=reply, actor=request.user,
                                 checked_not_posted=form.cleaned_data.get("checked_not_posted", False))
            done = _("Queued for publishing again.")
        else:
            form = forms.ConfirmForm(request.POST)
            if not form.is_valid():
                raise ApplicationError(_("The network id is too long."))
            services.reply_confirm_published(reply=reply, actor=request.user,
                                             external_id=form.cleaned_data["external_id"])
            done = _("Recorded as published.")
    except ApplicationError as exc:
        if not request.htmx:
            messages.error(request, exc.message)
            return _reply_detail_page(request, reply, http_status=exc.status_code)
        return _reply_list(request, ticket, status=exc.status_code, error=exc.message)
    if not request.htmx:
        messages.success(request, done)
        return redirect(_next_url(request, _page_url(ticket)))
    return _reply_list(request, ticket, trigger=trigger)


def _reply_detail_page(request, reply, *, http_status: int = 200) -> TemplateResponse:
    reply = selectors.reply_get_for_user(request.user, reply.pk)
    context = {"item": selectors.reply_item_for_user(reply, request.user), "reply": reply,
               "ticket": reply.ticket,
               "can_view_ticket": policies.can_moderate(reply.ticket, request.user)
               or reply.author_id == request.user.pk}
    return TemplateResponse(request, "replies/reply_detail.html", context, status=http_status)


@login_required
@require_GET
def reply_detail(request, pk: int):
    return _reply_detail_page(request, selectors.reply_get_for_user(request.user, pk))


@login_required
@require_POST
def message_hide(request, pk: int):
    """Hide a customer's public comment on the network (for comments exposing personal data)."""
    message = get_object_or_404(Message.objects.select_related("ticket", "channel"), pk=pk)
    ticket = selectors.ticket_get_for_composer(request.user, message.ticket_id)
    try:
        services.message_hide(message=message, actor=request.user)
    except ApplicationError as exc:
        if not request.htmx:
            messages.error(request, exc.message)
            return _ticket_page(request, ticket, http_status=exc.status_code)
        return _reply_list(request, ticket, status=exc.status_code, error=exc.message)
    if not request.htmx:
        messages.success(request, _("The comment is hidden on the network."))
        return redirect(_next_url(request, _page_url(ticket)))
    return _reply_list(request, ticket, trigger="ticketChanged, threadChanged")


# --- approval queue -----------------------------------------------------------------------


def _approvals_page(request, *, status: int = 200) -> TemplateResponse:
    queue = selectors.approval_queue(request.user)
    context = {"queue": queue, "actionable": sum(1 for r in queue if r.author_id != request.user.pk)}
    template = "replies/approvals.html#approval-list" if request.htmx else "replies/approvals.html"
    return TemplateResponse(request, template, context, status=status)


@login_required
@require_GET
def approvals(request):
    if not policies.is_reviewer(request.user):
        raise PermissionDenied
    return _approvals_page(request)


@login_required
@require_POST
def approval_decide(request, pk: int, decision: str):
    """Approve (optionally with edits) or reject one reply in the queue."""
    if decision not in ("approve", "reject"):
        raise Http404("No such decision")
    if not policies.is_reviewer(request.user):
        raise PermissionDenied
    reply = selectors.approval_item(request.user, pk)
    error, done, status = "", "", 200
    form = forms.ApproveForm(request.POST) if decision == "approve" else forms.RejectForm(request.POST)
    if not form.is_valid():
        error = _("Give a reason for the author.") if decision == "reject" else _(
            "The form was incomplete; reload the page and try again.")
        status = 400
    else:
        try:
            if decision == "approve":
                body = form.cleaned_data["body"] if form.cleaned_data["edit"] else None
                services.reply_approve(reply=reply, reviewer=request.user, body=body,
                                       expected_version=form.cleaned_data["version"])
                done = _("Edited and approved: queued for publishing.") if body is not None and \
                    body != reply.body else _("Approved: queued for publishing.")
            else:
                services.reply_reject(reply=reply, reviewer=request.user,
                                      reason=form.cleaned_data["reason"],
                                      expected_version=form.cleaned_data["version"])
                done = _("Rejected: sent back to the author.")
        except ApplicationError as exc:
            error, status = exc.message, exc.status_code
    if not request.htmx:
        if error:
            messages.error(request, error)
            return _approvals_page(request, status=status)
        messages.success(request, done)
        return redirect("replies:approvals")
    reply = selectors.approval_queue_item(request.user, pk)
    response = TemplateResponse(
        request, "replies/approvals.html#approval-item",
        {"reply": reply, "item_error": error, "item_done": done}, status=status,
    )
    if not error:
        response["HX-Trigger"] = "approvalDecided"
    return response


# --- approval policies --------------------------------------------------------------------


def _require_configure(user) -> None:
    if not policies.can_configure(user):
        raise PermissionDenied


def _policy_page(request, *, status: int = 200) -> TemplateResponse:
    approval_policies, terms = selectors.policy_list()
    context = {"approval_policies": approval_policies, "terms": terms,
               "training": selectors.training_roster(request.user),
               "changes": selectors.setting_changes()}
    return TemplateResponse(request, "replies/policies.html", context, status=status)


@login_required
@require_GET
def policy_list(request):
    _require_configure(request.user)
    return _policy_page(request)


@login_required
@require_POST
def training_set(request, user_id: int):
    """Mark an author as in training, or no longer (HTMX swaps the row; plain POST redirects)."""
    _require_configure(request.user)
    row = selectors.training_row(request.user, user_id)
    form = forms.TrainingForm(request.POST)
    error, done, status = "", "", 200
    if not form.is_valid():
        error, status = _("Choose in training or not (and keep the reason short)."), 400
    else:
        try:
            author = services.author_training_set(
                author=row.author, in_training=form.cleaned_data["in_training"], actor=request.user,
                reason=form.cleaned_data["reason"],
            )
        except ApplicationError as exc:
            error, status = exc.message, exc.status_code
        else:
            template = _("%(name)s is marked as in training: their replies now need approval where a "
                         "policy asks for it.") if author.in_training else \
                _("%(name)s is no longer marked as in training.")
            done = template % {"name": author}
    if not request.htmx:
        if error:
            messages.error(request, error)
            return _policy_page(request, status=status)
        messages.success(request, done)
        return redirect(reverse("replies:policies") + "#training")
    context = {"row": selectors.training_row(request.user, user_id), "row_error": error, "row_done": done}
    return TemplateResponse(request, "replies/policies.html#training-row", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def policy_edit(request, pk: int | None = None):
    _require_configure(request.user)
    policy = get_object_or_404(ApprovalPolicy, pk=pk) if pk else ApprovalPolicy()
    form = forms.ApprovalPolicyForm(request.POST or None, instance=policy)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            services.approval_policy_save(policy=form.save(commit=False), actor=request.user)
            messages.success(request, _("Policy “%(name)s” saved.") % {"name": form.instance.name})
            return redirect("replies:policies")
        status = 400
    return TemplateResponse(request, "replies/policy_form.html", {"form": form, "policy": policy},
                            status=status)


@login_required
@require_http_methods(["GET", "POST"])
def term_edit(request, pk: int | None = None):
    _require_configure(request.user)
    term = get_object_or_404(WatchTerm, pk=pk) if pk else WatchTerm()
    form = forms.WatchTermForm(request.POST or None, instance=term)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            services.watch_term_save(term=form.save(commit=False), actor=request.user)
            messages.success(request, _("Watch-list entry “%(p)s” saved.") % {"p": form.instance.pattern})
            return redirect(reverse("replies:policies") + "#watch-list")
        status = 400
    return TemplateResponse(request, "replies/term_form.html", {"form": form, "term": term}, status=status)


@login_required
@require_POST
def term_delete(request, pk: int):
    _require_configure(request.user)
    term = get_object_or_404(WatchTerm, pk=pk)
    services.watch_term_delete(term=term, actor=request.user)
    messages.success(request, _("Watch-list entry “%(p)s” deleted.") % {"p": term.pattern})
    return redirect(reverse("replies:policies") + "#watch-list")
