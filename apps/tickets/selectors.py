"""Reads the pages need, with the visibility rule and the joins applied once, here."""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from apps.accounts import roles
from apps.accounts.models import Department

from . import policies
from .models import CARE_STATES, OPEN_STATES, Identity, Message, Note, Ticket, TicketEvent

HISTORY_TICKETS = 10
HISTORY_MESSAGES_PER_TICKET = 6


def ticket_visible_qs(user) -> QuerySet[Ticket]:
    """Every ticket this user may see: the base of every list, count and search."""
    return Ticket.objects.filter(policies.visible_tickets_q(user))


def ticket_list_for_user(user, *, state: str | None = None) -> QuerySet[Ticket]:
    qs = ticket_visible_qs(user).select_related(
        "channel", "customer", "assignee", "team", "department"
    )
    if state:
        qs = qs.filter(state=state)
    return qs


def ticket_get_for_user(user, pk: int) -> Ticket:
    """The ticket if this user may see it; 404 otherwise, so existence does not leak."""
    ticket = (
        Ticket.objects.select_related(
            "channel", "customer", "assignee", "team", "department", "linked_from", "merged_into"
        )
        .filter(pk=pk)
        .first()
    )
    if ticket is None or not policies.can_view(ticket, user):
        raise Http404("No such ticket")
    return ticket


def ticket_escalation_departments(ticket: Ticket) -> QuerySet[Department]:
    """Where this ticket may be escalated: any non-care department; a confidential one only."""
    qs = Department.objects.exclude(kind=Department.Kind.CARE)
    return qs.filter(confidential=True) if ticket.confidential else qs


def ticket_transfer_departments(ticket: Ticket) -> QuerySet[Department]:
    """Where the holding department may pass this ticket on (confidential ones only, if it is)."""
    if ticket.department_id is None:
        return Department.objects.none()
    qs = ticket.department.routes.all()
    return qs.filter(confidential=True) if ticket.confidential else qs


def ticket_assignable_users(ticket: Ticket):
    """Who may be assigned: the team's active members; for a confidential ticket, the people
    who may see it (members of a confidential department and admins), as the service checks."""
    users = get_user_model().objects.filter(is_active=True)
    if ticket.confidential:
        return users.filter(
            Q(departments__confidential=True) | Q(is_superuser=True) | Q(groups__name=roles.ADMIN)
        ).distinct()
    if ticket.team_id is None:
        return users.none()
    return users.filter(teams=ticket.team_id)


@dataclass(frozen=True)
class TransitionChoice:
    name: str
    label: str
    form: str
    needs_reason: bool
    reason_label: str


def ticket_transitions_for_user(ticket: Ticket, user) -> list[TransitionChoice]:
    """The transitions this user may take now, straight from the workflow definition."""
    choices = []
    for t in ticket.get_available_user_state_transitions(user):
        if t.name == "take_over" and ticket.assignee_id == user.pk:
            continue
        choices.append(
            TransitionChoice(
                name=t.name,
                label=str(t.custom.get("label", t.name)),
                form=t.custom.get("ui_form", ""),
                needs_reason=bool(t.custom.get("needs_reason")),
                reason_label=str(t.custom.get("reason_label", "")),
            )
        )
    return choices


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str  # "message" | "note" | "event"
    obj: object


def ticket_timeline(ticket: Ticket) -> list[TimelineItem]:
    """Messages, internal notes and audit events of one ticket in time order (3 queries)."""
    messages = Message.objects.filter(ticket=ticket).select_related(
        "author_identity", "author_user", "channel"
    )
    notes = Note.objects.filter(ticket=ticket).select_related("author", "department")
    events = TicketEvent.objects.filter(ticket=ticket).select_related("actor")
    items = [TimelineItem(m.created_at, "message", m) for m in messages]
    items += [TimelineItem(n.created_at, "note", n) for n in notes]
    items += [TimelineItem(e.created_at, "event", e) for e in events]
    order = {"message": 0, "note": 1, "event": 2}
    items.sort(key=lambda i: (i.at, order[i.kind]))
    return items


def ticket_thread(ticket: Ticket) -> QuerySet[Message]:
    return Message.objects.filter(ticket=ticket).select_related(
        "author_identity", "author_user", "channel"
    )


def ticket_notes(ticket: Ticket) -> QuerySet[Note]:
    return Note.objects.filter(ticket=ticket).select_related("author", "department").prefetch_related(
        Prefetch("mentions")
    )


def ticket_events(ticket: Ticket) -> QuerySet[TicketEvent]:
    return TicketEvent.objects.filter(ticket=ticket).select_related("actor")


def customer_other_tickets(ticket: Ticket, user, *, limit: int = 10) -> list[Ticket]:
    return list(
        ticket_visible_qs(user)
        .filter(customer_id=ticket.customer_id)
        .exclude(pk=ticket.pk)
        .select_related("channel")
        .order_by("-created_at")[:limit]
    )


def customer_history(ticket: Ticket, user, *, limit: int = HISTORY_TICKETS) -> list[Ticket]:
    """The customer's other tickets this user may see, across all their identities, oldest first.

    Each carries `recent_messages` (its last few messages) so the page can show the story
    without one query per ticket (2 queries in all).
    """
    recent = Message.objects.select_related("author_identity", "author_user", "channel").order_by(
        "-created_at", "-pk"
    )[:HISTORY_MESSAGES_PER_TICKET]
    tickets = list(
        ticket_visible_qs(user)
        .filter(customer_id=ticket.customer_id)
        .exclude(pk=ticket.pk)
        .select_related("channel", "assignee")
        .prefetch_related(Prefetch("messages", queryset=recent, to_attr="recent_messages_desc"))
        .order_by("-created_at", "-pk")[:limit]
    )
    for other in tickets:
        other.recent_messages = other.recent_messages_desc[::-1]
    return tickets[::-1]


def customer_identities(ticket: Ticket) -> list[Identity]:
    return list(Identity.objects.filter(customer_id=ticket.customer_id).order_by("channel_kind", "pk"))


def merge_targets(ticket: Ticket, history: list[Ticket]) -> list[Ticket]:
    """Tickets this one could be merged into, picked from the customer's history already loaded.

    The service re-checks everything under a lock; this only decides what the form offers.
    """
    if ticket.state not in CARE_STATES or ticket.merged_into_id:
        return []
    return [
        other for other in history
        if other.state in OPEN_STATES and other.merged_into_id is None
        and other.confidential == ticket.confidential
    ]
