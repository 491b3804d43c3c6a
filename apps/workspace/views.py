"""Workspace endpoints: presence polling, the canned-reply picker and manager, the language switch."""

import re

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django.views.i18n import set_language

from apps.core.exceptions import ApplicationError
from apps.tickets import selectors as ticket_selectors
from apps.tickets.models import TicketEvent

from . import policies, presence, selectors, services
from .forms import CannedPickForm, CannedReplyForm
from .models import PLACEHOLDERS, CannedReply

_VERSION_RE = re.compile(r"[0-9]{1,18}")


@login_required
@require_POST
def presence_poll(request, ticket_pk: int):
    """Heartbeat from an open ticket page: mark me, answer who else is here and whether it changed."""
    ticket = ticket_selectors.ticket_get_for_user(request.user, ticket_pk)
    presence.presence_mark(
        ticket_id=ticket.pk, user=request.user, writing=request.POST.get("writing") == "1"
    )
    changed_by = None
    seen = request.POST.get("version", "")
    # ASCII digits of a plausible length only: "²" is a digit to str.isdigit() but not to int(),
    # and int() refuses strings of more than 4,300 digits.
    stale = bool(_VERSION_RE.fullmatch(seen)) and int(seen) != ticket.version
    if stale:
        last = TicketEvent.objects.filter(ticket=ticket).select_related("actor").order_by("-pk").first()
        changed_by = last.actor if last and last.actor_id != request.user.pk else None
    context = {
        "ticket": ticket,
        "others": presence.presence_for_ticket(ticket.pk, exclude_user_id=request.user.pk),
        "stale": stale,
        "changed_by": changed_by,
        "presence_poll_seconds": presence.POLL_SECONDS,
    }
    return TemplateResponse(request, "tickets/detail.html#presence", context)


@login_required
@require_POST
def presence_leave(request, ticket_pk: int):
    """The page was closed or the reply sent: drop me at once instead of after the expiry."""
    ticket = ticket_selectors.ticket_get_for_user(request.user, ticket_pk)
    presence.presence_leave(ticket_id=ticket.pk, user=request.user)
    return JsonResponse({"ok": True})


# --- canned replies: picking one on a ticket ---------------------------------------------------


@login_required
@require_safe
def canned_pick(request, ticket_pk: int):
    """Canned replies for this ticket, searchable by name, in the customer's language by default."""
    ticket = ticket_selectors.ticket_get_for_user(request.user, ticket_pk)
    form = CannedPickForm(request.GET)
    form.is_valid()
    language = form.cleaned_data.get("lang") or selectors.ticket_reply_language(ticket)
    replies = selectors.canned_replies_for_ticket(
        ticket, q=form.cleaned_data.get("q", ""), language=language
    )
    context = {"ticket": ticket, "form": form, "replies": replies, "language": language}
    template = "workspace/canned_pick.html#canned-results" if request.htmx else "workspace/canned_pick.html"
    return TemplateResponse(request, template, context, status=200 if form.is_valid() else 400)


@login_required
@require_safe
def canned_fill(request, ticket_pk: int, pk: int):
    """The reply with its placeholders filled for this ticket: JSON for the composer, else a page."""
    ticket = ticket_selectors.ticket_get_for_user(request.user, ticket_pk)
    canned = selectors.canned_reply_for_ticket(ticket, pk)
    if canned is None:
        if "application/json" in request.headers.get("Accept", ""):
            return JsonResponse({"error": _("This canned reply is not available here.")}, status=404)
        return TemplateResponse(
            request, "workspace/canned_fill.html", {"ticket": ticket, "canned": None}, status=404
        )
    text = selectors.canned_reply_fill(canned, ticket=ticket, user=request.user)
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"id": canned.pk, "name": canned.name, "language": canned.language, "body": text})
    return TemplateResponse(
        request, "workspace/canned_fill.html", {"ticket": ticket, "canned": canned, "text": text}
    )


# --- canned replies: management by leads -------------------------------------------------------


def _require_manager(user):
    if not policies.can_manage_canned_replies(user):
        raise PermissionDenied(_("Only team leads and administrators manage canned replies."))


@login_required
@require_safe
def canned_list(request):
    _require_manager(request.user)
    languages = settings.LANGUAGES
    language = request.GET.get("language", "")
    if language not in dict(languages):
        language = ""
    replies = list(selectors.canned_replies_for_manager(request.user, language=language))
    for canned in replies:
        canned.editable = policies.can_edit_canned_reply(request.user, canned)
    context = {
        "replies": replies,
        "language": language,
        "languages": languages,
        "placeholders": PLACEHOLDERS,
    }
    return TemplateResponse(request, "workspace/canned_list.html", context)


def _canned_form(request, canned=None):
    teams = policies.manageable_teams(request.user)
    initial = {}
    if canned is None:
        own = teams.filter(members=request.user).first()
        initial = {"team": own, "language": own.default_language if own else request.LANGUAGE_CODE}
    return CannedReplyForm(
        request.POST or None, instance=canned, teams=teams, initial=initial,
        allow_shared=policies.can_edit_canned_reply(request.user, CannedReply(team=None)),
    )


def _canned_edit(request, canned=None):
    _require_manager(request.user)
    if canned is not None and not policies.can_edit_canned_reply(request.user, canned):
        raise PermissionDenied(_("You cannot change this canned reply."))
    form = _canned_form(request, canned)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                saved = services.canned_reply_save(
                    actor=request.user, canned=canned, name=data["name"], body=data["body"],
                    language=data["language"], team=data["team"], is_active=data["is_active"],
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
                status = exc.status_code
            else:
                messages.success(request, _("Saved “%(name)s”.") % {"name": saved.name})
                return redirect("workspace:canned-list")
        else:
            status = 400
    context = {"form": form, "canned": canned, "placeholders": PLACEHOLDERS}
    return TemplateResponse(request, "workspace/canned_form.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def canned_create(request):
    return _canned_edit(request)


@login_required
@require_http_methods(["GET", "POST"])
def canned_update(request, pk: int):
    return _canned_edit(request, get_object_or_404(CannedReply, pk=pk))


@login_required
@require_http_methods(["GET", "POST"])
def canned_delete(request, pk: int):
    _require_manager(request.user)
    canned = get_object_or_404(CannedReply, pk=pk)
    if not policies.can_edit_canned_reply(request.user, canned):
        raise PermissionDenied(_("You cannot delete this canned reply."))
    if request.method == "POST":
        services.canned_reply_delete(actor=request.user, canned=canned)
        messages.success(request, _("Deleted “%(name)s”.") % {"name": canned.name})
        return redirect("workspace:canned-list")
    return TemplateResponse(request, "workspace/canned_delete.html", {"canned": canned})


# --- interface language ------------------------------------------------------------------------


@require_POST
def language_switch(request):
    """Django's set_language, and for a signed-in user the saved preference too (it wins later)."""
    language = request.POST.get("language", "")
    if request.user.is_authenticated:
        try:
            services.user_language_set(user=request.user, language=language)
        except ApplicationError as exc:
            messages.error(request, exc.message)
    return set_language(request)
