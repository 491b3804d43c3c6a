"""Triage as other apps use it: classify a text, store the result on a ticket, raise priority."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from apps.sla.services import sla_ticket_rematch
from apps.tickets.models import PRIORITY_RANK, Ticket, TicketEvent
from apps.tickets.services import ticket_event_build, ticket_event_record

from .classifiers import TriageResult, get_classifier, joined
from .explain import reason, render

__all__ = [
    "TriageResult", "ticket_priority_raise", "ticket_triage_apply", "ticket_triage_event", "triage_classify",
]


def triage_classify(*, text: str, channel, identity=None, customer=None, context=None) -> TriageResult:
    """Language, intent, sentiment, priority and routing of one text, each with its reasons.

    Reads only: nothing is stored. `identity` lends its follower count (author reach) and
    `customer` their recent tickets (repeated contact) and known language; `context` is the post
    the text replies to (`Ticket.context`: text, hashtags, sponsored), when there is one.
    """
    extra = {"context": context} if context else {}  # classifiers written before `context` keep working
    return get_classifier().classify(text=text, channel=channel, identity=identity, customer=customer, **extra)


def ticket_triage_apply(*, ticket: Ticket, result: TriageResult, actor=None) -> Ticket:
    """Store a triage result on the ticket and audit it (one "triage" event with the outcome).

    The ticket's state is untouched. A result without a team keeps the current team, and a
    result never makes a confidential ticket visible again.
    """
    fields = {
        "language": result.language,
        "intent": result.intent,
        "sentiment": result.sentiment,
        "priority": result.priority,
        "confidential": ticket.confidential or result.confidential,
        "triage_explanation": result.explanation,
    }
    if result.team is not None:
        fields["team"] = result.team
    changed = {name: value for name, value in fields.items() if getattr(ticket, name) != value}
    # All or nothing with the caller's transaction when there is one: no savepoint needed.
    with transaction.atomic(savepoint=False):
        if changed:
            Ticket.objects.filter(pk=ticket.pk).update(**changed, updated_at=timezone.now())
            for name, value in changed.items():
                setattr(ticket, name, value)
        ticket_triage_event(ticket=ticket, result=result, actor=actor).save()
    return ticket


def ticket_triage_event(*, ticket: Ticket, result: TriageResult, actor=None) -> TicketEvent:
    """The "triage" audit row of a result, not saved yet (a batch of new tickets stores theirs
    in one insert)."""
    return ticket_event_build(
        ticket=ticket, kind=TicketEvent.Kind.TRIAGE, actor=actor,
        data={
            "language": result.language, "intent": result.intent, "sentiment": result.sentiment,
            "priority": result.priority, "team": str(result.team) if result.team else "",
            "suggested_department": str(result.department) if result.department else "",
            "confidential": result.confidential,
        },
    )


def ticket_priority_raise(*, ticket: Ticket, result: TriageResult, actor=None) -> bool:
    """A later message warrants more urgency: raise the ticket's priority (never lower it).

    Returns whether it was raised. The reasons join the ticket's explanation and the audit trail.
    SLA policies match on priority ("urgent tightens them"), so the ticket's deadlines are
    recomputed with the policy that matches now, in the same transaction.
    """
    if PRIORITY_RANK[result.priority] <= PRIORITY_RANK[ticket.priority]:
        return False
    previous = ticket.priority
    explanation = dict(ticket.triage_explanation or {})
    note = reason(
        gettext_noop("Raised from %(old)s to %(new)s by a later message:"),
        old={"priority": previous}, new={"priority": result.priority},
    )
    reasons = list(result.explanation.get("priority", []))
    # Stored language-neutral like the rest (apps/triage/explain.py): one reason, shown translated.
    explanation["priority"] = [*explanation.get("priority", []), joined([note, *reasons], " ")]
    with transaction.atomic(savepoint=False):
        Ticket.objects.filter(pk=ticket.pk).update(
            priority=result.priority, triage_explanation=explanation, updated_at=timezone.now()
        )
        ticket.priority = result.priority
        ticket.triage_explanation = explanation
        ticket_event_record(
            ticket=ticket, kind=TicketEvent.Kind.TRIAGE, actor=actor, reason=" ".join(render(r) for r in reasons),
            data={"priority": result.priority, "from_priority": previous},
        )
        sla_ticket_rematch(ticket=ticket, cause="priority")
    return True
