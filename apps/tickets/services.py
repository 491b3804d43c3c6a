"""Every write to tickets goes through these functions (one transaction each, audited)."""

import re
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import ConcurrentTransition, can_proceed, has_transition_perm

from apps.accounts.models import Department
from apps.core.exceptions import ApplicationError, PermissionRefused, StaleObject
from apps.notifications.services import notification_create

from . import hooks, policies
from .models import (
    Channel,
    Customer,
    Identity,
    Message,
    Note,
    Ticket,
    TicketEvent,
    TicketState,
)

TRANSITIONS = {
    t.name: t for t in Ticket._meta.get_field("state").get_all_transitions(Ticket)
}

MAX_REASON = 4000
MAX_NOTE = 10_000
MENTION_RE = re.compile(r"(?<![\w@])@([A-Za-z0-9_.\-]{2,150})")


def ticket_event_build(
    *, ticket: Ticket, kind: str, actor=None, transition: str = "", from_state: str = "",
    to_state: str = "", reason: str = "", data: dict | None = None, at: datetime | None = None,
) -> TicketEvent:
    """One row of the ticket's audit trail, not saved yet (several go in one insert)."""
    return TicketEvent(
        ticket=ticket, actor=actor, kind=kind, transition=transition, from_state=from_state,
        to_state=to_state, reason=reason[:MAX_REASON], data=data or {},
        created_at=at or timezone.now(),
    )


def ticket_event_record(**kwargs) -> TicketEvent:
    """Append one row to the ticket's audit trail (arguments of `ticket_event_build`)."""
    event = ticket_event_build(**kwargs)
    event.save()
    return event


def _validate_params(ticket: Ticket, name: str, actor, params: dict, reason: str) -> dict:
    """Check what a transition's arguments must satisfy; return the kwargs for the method."""
    custom = TRANSITIONS[name].custom
    if custom.get("needs_reason") and name != "take_over" and not reason.strip():
        raise ApplicationError(_("Please give a reason."))
    if name in ("claim", "take_over"):
        if actor is None:
            raise ApplicationError(_("Only a person can claim a ticket."))
        if name == "take_over" and ticket.assignee_id == actor.pk:
            raise ApplicationError(_("You already own this ticket."))
        return {"user": actor}
    if name == "assign":
        assignee = params.get("assignee")
        if assignee is None:
            return {"assignee": None}
        if ticket.confidential:
            # Confidential tickets are worked by the confidential department, as the team would.
            if not policies.can_view(ticket, assignee):
                raise ApplicationError(
                    _("%(user)s may not see this confidential ticket.") % {"user": assignee}
                )
        elif not assignee.teams.filter(pk=ticket.team_id).exists():
            raise ApplicationError(_("%(user)s is not in this ticket's team.") % {"user": assignee})
        return {"assignee": assignee}
    if name == "escalate":
        department = params.get("department")
        if not isinstance(department, Department) or department.kind == Department.Kind.CARE:
            raise ApplicationError(_("Choose the department to escalate to."))
        _check_department_may_hold(ticket, department)
        return {"department": department}
    if name == "transfer":
        department = params.get("department")
        if not isinstance(department, Department) or not ticket.department.routes.filter(
            pk=department.pk
        ).exists():
            raise ApplicationError(
                _("The routing policy does not allow a transfer from %(dept)s to there.")
                % {"dept": ticket.department}
            )
        _check_department_may_hold(ticket, department)
        return {"department": department}
    if name in ("resolve", "close"):
        return {"at": params.get("at") or timezone.now()}
    return {}


def _check_department_may_hold(ticket: Ticket, department: Department) -> None:
    if not policies.department_may_hold(ticket, department):
        raise ApplicationError(
            _("This ticket is confidential: %(dept)s could neither see nor act on it. "
              "Choose a confidential department.") % {"dept": department}
        )


def ticket_transition(
    *, ticket: Ticket, transition: str, actor=None, reason: str = "",
    expected_version: int | None = None, data: dict | None = None, **params,
) -> Ticket:
    """Run one workflow transition: check, change, save, audit, then side effects on commit.

    `actor=None` is the system (ingest, SLA sweeps); a person is checked against the
    transition's permission. `expected_version` is the version the person saw: if somebody
    else changed the ticket since, the transition is refused with a "reload" error.
    """
    if transition not in TRANSITIONS:
        raise ApplicationError(_("Unknown action."))
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise ApplicationError(_("The reason is too long."))
    with transaction.atomic():
        locked = (
            Ticket.objects.select_for_update(of=("self",))
            .select_related("department", "team")
            .get(pk=ticket.pk)
        )
        seen = expected_version if expected_version is not None else ticket.version
        if locked.version != seen:
            raise StaleObject(_("This ticket was changed by someone else. Reload it and try again."))
        method = getattr(locked, transition)
        if actor is not None:
            if not policies.can_view(locked, actor):
                raise PermissionRefused(_("You cannot see this ticket."))
            if not can_proceed(method):
                raise ApplicationError(_("That action is not possible in the current state."))
            if not has_transition_perm(method, actor):
                raise PermissionRefused(_("You are not allowed to do that on this ticket."))
        elif not can_proceed(method):
            raise ApplicationError(_("That action is not possible in the current state."))
        kwargs = _validate_params(locked, transition, actor, params, reason)
        from_state = locked.state
        previous_department = locked.department
        previous_assignee = locked.assignee
        method(**kwargs)
        locked.version += 1
        if transition in ("escalate", "transfer"):
            locked.escalation_reason = reason
        try:
            locked.save()
        except ConcurrentTransition as exc:
            raise StaleObject(
                _("This ticket was changed by someone else. Reload it and try again.")
            ) from exc
        now = timezone.now()
        event_data = dict(data or {})
        if transition in ("escalate", "transfer"):
            event_data["department"] = locked.department.name
            if previous_department is not None:
                event_data["from_department"] = previous_department.name
        if transition == "return_to_care" and previous_department is not None:
            event_data["from_department"] = previous_department.name
            Note.objects.create(
                ticket=locked, author=actor, body=reason, is_guidance=True,
                department=previous_department,
            )
        if transition in ("claim", "take_over", "assign") or locked.assignee != previous_assignee:
            event_data["assignee"] = str(locked.assignee) if locked.assignee else ""
            event_data["previous_assignee"] = str(previous_assignee) if previous_assignee else ""
        ticket_event_record(
            ticket=locked, kind=TicketEvent.Kind.TRANSITION, actor=actor, transition=transition,
            from_state=from_state, to_state=locked.state, reason=reason, data=event_data, at=now,
        )
        hooks.emit(
            "ticket_transitioned", ticket=locked, transition=transition, from_state=from_state,
            to_state=locked.state, actor=actor, at=now, params=params,
        )
        _notify_after_transition(locked, transition, actor, previous_assignee, reason)
    return locked


def _notify_after_transition(ticket: Ticket, transition: str, actor, previous_assignee, reason: str = "") -> None:
    if transition in ("assign", "take_over") and ticket.assignee and ticket.assignee != actor:
        notification_create(
            user=ticket.assignee, ticket=ticket, kind="assigned",
            title=_("%(ref)s was assigned to you") % {"ref": ticket.reference},
        )
    if transition == "take_over" and previous_assignee and previous_assignee != actor:
        notification_create(
            user=previous_assignee, ticket=ticket, kind="taken_over",
            title=_("%(user)s took over %(ref)s") % {"user": actor, "ref": ticket.reference},
            body=reason[:500],
        )
    if transition in ("escalate", "transfer") and ticket.department_id:
        for member in ticket.department.members.filter(is_active=True):
            if member != actor:
                notification_create(
                    user=member, ticket=ticket, kind="escalated",
                    title=_("%(ref)s was escalated to %(dept)s")
                    % {"ref": ticket.reference, "dept": ticket.department},
                )
    if transition == "return_to_care" and ticket.assignee and ticket.assignee != actor:
        notification_create(
            user=ticket.assignee, ticket=ticket, kind="returned",
            title=_("%(ref)s came back to care with guidance") % {"ref": ticket.reference},
        )


def identity_build(
    *, channel_kind: str, external_id: str, handle: str = "", display_name: str = "",
    followers_count: int | None = None, email: str = "", customer: Customer | None = None,
) -> Identity:
    """A network identity seen for the first time, and its new customer unless one is given;
    neither saved yet."""
    if customer is None:
        customer = Customer(display_name=(display_name or handle)[:200], email=email[:254])
    return Identity(
        customer=customer, channel_kind=channel_kind, external_id=external_id[:255], handle=handle[:255],
        display_name=display_name[:255], followers_count=followers_count,
    )


def customer_for_identity(
    *, channel_kind: str, external_id: str, handle: str = "", display_name: str = "",
    followers_count: int | None = None, email: str = "",
) -> tuple[Customer, Identity]:
    """The customer behind one network identity, created on first sight; keeps names fresh."""
    external_id = external_id[:255]
    identity = (
        Identity.objects.select_related("customer")
        .filter(channel_kind=channel_kind, external_id=external_id)
        .first()
    )
    if identity is None:
        customer = None
        if email:
            customer = Customer.objects.filter(email__iexact=email, erased_at__isnull=True).first()
        new = identity_build(
            channel_kind=channel_kind, external_id=external_id, handle=handle, display_name=display_name,
            followers_count=followers_count, email=email, customer=customer,
        )
        if new.customer.pk is None:
            new.customer.save()
        identity, _created = Identity.objects.get_or_create(
            channel_kind=channel_kind, external_id=external_id,
            defaults={
                "customer": new.customer, "handle": new.handle,
                "display_name": new.display_name, "followers_count": followers_count,
            },
        )
        return identity.customer, identity
    changed = []
    for field, value in (
        ("handle", handle[:255]), ("display_name", display_name[:255]),
        ("followers_count", followers_count),
    ):
        if value not in ("", None) and getattr(identity, field) != value:
            setattr(identity, field, value)
            changed.append(field)
    if changed:
        identity.save(update_fields=changed)
    return identity.customer, identity


def ticket_build(
    *, channel: Channel, customer: Customer, subject: str, team=None, created_at: datetime | None = None,
    conversation_key: str = "", context: dict | None = None, linked_from: Ticket | None = None, **fields,
) -> Ticket:
    """A new ticket (state new), not saved yet: `tickets_open` stores and audits it."""
    return Ticket(
        channel=channel, customer=customer, subject=subject.strip()[:300] or _("(no subject)"),
        team=team or channel.team, created_at=created_at or timezone.now(),
        conversation_key=conversation_key[:255], context=context or {}, linked_from=linked_from, **fields,
    )


@transaction.atomic(savepoint=False)
def tickets_open(tickets: list[Ticket], *, actor=None) -> list[Ticket]:
    """Store new tickets in one insert, audit each ("created") and start what derives from them.

    One ticket or a few hundred (a wave of complaints ingested at once) take the same path and
    the same number of statements.
    """
    Ticket.objects.bulk_create(tickets)
    events = []
    for ticket in tickets:
        data = {"channel": ticket.channel.slug}
        if ticket.linked_from is not None:
            data["linked_from"] = ticket.linked_from.reference
        events.append(ticket_event_build(
            ticket=ticket, kind=TicketEvent.Kind.CREATED, actor=actor, to_state=ticket.state, data=data,
            at=ticket.created_at,
        ))
    TicketEvent.objects.bulk_create(events)
    hooks.emit("tickets_created", tickets=tickets)
    return tickets


def ticket_create(
    *, channel: Channel, customer: Customer, subject: str, actor=None, team=None,
    created_at: datetime | None = None, conversation_key: str = "", context: dict | None = None,
    linked_from: Ticket | None = None, **fields,
) -> Ticket:
    """Open a new ticket (state new) and audit it; triage fields may be passed in `fields`."""
    ticket = ticket_build(
        channel=channel, customer=customer, subject=subject, team=team, created_at=created_at,
        conversation_key=conversation_key, context=context, linked_from=linked_from, **fields,
    )
    return tickets_open([ticket], actor=actor)[0]


def message_build(
    *, ticket: Ticket, channel: Channel, direction: str, body: str, created_at: datetime,
    is_public: bool = True, author_identity: Identity | None = None, author_user=None,
    external_id: str | None = None, **fields,
) -> Message:
    """One message of a ticket's thread, not saved yet: `messages_record` stores it."""
    from django.conf import settings

    return Message(
        ticket=ticket, channel=channel, direction=direction,
        body=body[: settings.MESSAGE_MAX_CHARS], created_at=created_at, is_public=is_public,
        author_identity=author_identity, author_user=author_user,
        external_id=external_id[:255] if external_id else None, **fields,
    )


@transaction.atomic(savepoint=False)
def messages_record(messages: list[Message]) -> list[Message]:
    """Store messages in one insert and keep their tickets' contact times current."""
    Message.objects.bulk_create(messages)
    for message in messages:
        ticket, created_at = message.ticket, message.created_at
        update = {}
        if message.direction == Message.Direction.IN:
            if ticket.last_customer_message_at is None or created_at > ticket.last_customer_message_at:
                update["last_customer_message_at"] = created_at
        elif not message.is_automatic:
            if ticket.first_response_at is None:
                update["first_response_at"] = created_at
            if ticket.last_agent_reply_at is None or created_at > ticket.last_agent_reply_at:
                update["last_agent_reply_at"] = created_at
        if update:
            Ticket.objects.filter(pk=ticket.pk).update(**update)
            for k, v in update.items():
                setattr(ticket, k, v)
    hooks.emit("messages_recorded", messages=messages)
    return messages


def message_record(
    *, ticket: Ticket, channel: Channel, direction: str, body: str, created_at: datetime,
    is_public: bool = True, author_identity: Identity | None = None, author_user=None,
    external_id: str | None = None, **fields,
) -> Message:
    """Store one message in a ticket's thread and keep the ticket's contact times current."""
    message = message_build(
        ticket=ticket, channel=channel, direction=direction, body=body, created_at=created_at,
        is_public=is_public, author_identity=author_identity, author_user=author_user,
        external_id=external_id, **fields,
    )
    return messages_record([message])[0]


def note_add(
    *, ticket: Ticket, author, body: str, is_guidance: bool = False, department=None
) -> Note:
    """Add an internal note; @username mentions notify the people named (if they may see it)."""
    body = (body or "").strip()
    if not body:
        raise ApplicationError(_("The note is empty."))
    if len(body) > MAX_NOTE:
        raise ApplicationError(_("The note is too long (%(max)s characters at most).") % {"max": MAX_NOTE})
    if not policies.can_view(ticket, author):
        raise PermissionRefused(_("You cannot see this ticket."))
    with transaction.atomic():
        note = Note.objects.create(
            ticket=ticket, author=author, body=body, is_guidance=is_guidance, department=department
        )
        usernames = {m.rstrip(".") for m in MENTION_RE.findall(body)}
        mentioned = [
            u for u in get_user_model().objects.filter(username__in=usernames, is_active=True)
            if u != author and policies.can_view(ticket, u)
        ]
        if mentioned:
            note.mentions.set(mentioned)
        for user in mentioned:
            notification_create(
                user=user, ticket=ticket, kind="mention", body=body[:500],
                title=_("%(user)s mentioned you on %(ref)s") % {"user": author, "ref": ticket.reference},
            )
        ticket_event_record(
            ticket=ticket, kind=TicketEvent.Kind.NOTE, actor=author,
            data={"note_id": note.pk, "guidance": is_guidance,
                  "mentions": [u.username for u in mentioned]},
        )
    return note


def ticket_reopen_for_customer(*, ticket: Ticket, at: datetime) -> Ticket:
    """A customer wrote into a waiting or resolved ticket: the system moves it back to open."""
    if ticket.state in (TicketState.PENDING_CUSTOMER, TicketState.RESOLVED):
        return ticket_transition(
            ticket=ticket, transition="customer_replied", actor=None,
            reason=_("The customer wrote again."), data={"at": at.isoformat()},
        )
    return ticket


def ticket_merge(
    *, source: Ticket, target: Ticket, actor, reason: str = "",
    source_version: int | None = None, target_version: int | None = None,
) -> Ticket:
    """Fold `source` into `target` (the same customer's open ticket) and close `source`.

    The source's messages and internal notes move to the target, so its thread tells the whole
    story; the source keeps its audit trail, points at the target (`merged_into`) and is closed
    through the workflow (triage, resolve, close as needed), every step audited as the actor.
    Versions are the ones the person saw: a ticket changed since is refused with "reload".
    """
    from django.db.models import Max

    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise ApplicationError(_("The reason is too long."))
    if source.pk == target.pk:
        raise ApplicationError(_("A ticket cannot be merged into itself."))
    with transaction.atomic():
        # Lock both rows in a fixed order, so two merges of the same pair cannot deadlock.
        locked = {
            t.pk: t for t in Ticket.objects.select_for_update(of=("self",)).filter(
                pk__in=[source.pk, target.pk]
            ).order_by("pk")
        }
        src, dst = locked[source.pk], locked[target.pk]
        if (source_version is not None and src.version != source_version) or (
            target_version is not None and dst.version != target_version
        ):
            raise StaleObject(_("This ticket was changed by someone else. Reload it and try again."))
        if not (policies.can_view(src, actor) and policies.can_view(dst, actor)):
            raise PermissionRefused(_("You cannot see this ticket."))
        if not (policies.can_work_care(src, actor) and policies.can_work_care(dst, actor)):
            raise PermissionRefused(_("You are not allowed to do that on this ticket."))
        if src.customer_id != dst.customer_id:
            raise ApplicationError(_("Only tickets of the same customer can be merged."))
        if src.merged_into_id or dst.merged_into_id:
            raise ApplicationError(_("One of these tickets was already merged."))
        if src.state not in (TicketState.NEW, TicketState.OPEN, TicketState.PENDING_CUSTOMER):
            raise ApplicationError(_("Only a ticket still with care can be merged into another."))
        if dst.state in (TicketState.RESOLVED, TicketState.CLOSED):
            raise ApplicationError(_("Merge into a ticket that is still open."))
        if src.confidential != dst.confidential:
            raise ApplicationError(_("A confidential ticket can only be merged with another confidential one."))

        moved_messages = Message.objects.filter(ticket=src).update(ticket=dst)
        moved_notes = Note.objects.filter(ticket=src).update(ticket=dst)
        Ticket.objects.filter(pk=src.pk).update(merged_into=dst)
        src.merged_into = dst
        contact = {
            "last_customer_message_at": Message.objects.filter(
                ticket=dst, direction=Message.Direction.IN
            ).aggregate(latest=Max("created_at"))["latest"],
        }
        if src.last_agent_reply_at and (
            dst.last_agent_reply_at is None or src.last_agent_reply_at > dst.last_agent_reply_at
        ):
            contact["last_agent_reply_at"] = src.last_agent_reply_at
        if not dst.conversation_key and src.conversation_key:
            contact["conversation_key"] = src.conversation_key
        Ticket.objects.filter(pk=dst.pk).update(**contact)
        for field, value in contact.items():
            setattr(dst, field, value)
        ticket_event_record(
            ticket=dst, kind=TicketEvent.Kind.MERGE, actor=actor, reason=reason,
            data={"merged_from": src.reference, "messages": moved_messages, "notes": moved_notes},
        )
        ticket_event_record(
            ticket=src, kind=TicketEvent.Kind.MERGE, actor=actor, reason=reason,
            data={"merged_into": dst.reference, "messages": moved_messages, "notes": moved_notes},
        )
        closing = _("Merged into %(ref)s.") % {"ref": dst.reference}
        if reason:
            closing = f"{closing} {reason}"
        steps = {TicketState.NEW: ["triage", "resolve", "close"]}.get(src.state, ["resolve", "close"])
        for step in steps:
            src = ticket_transition(ticket=src, transition=step, actor=actor, reason=closing)
        hooks.emit("ticket_merged", source=src, target=dst, actor=actor, at=timezone.now())
    return dst


def message_split(*, message: Message, actor, subject: str = "", reason: str = "") -> Ticket:
    """Move one customer message out of its ticket into a new ticket, linked to the old one.

    For a message that is a different matter (or a different person under the same post): the
    new ticket belongs to the message's author, keeps the old ticket's team and triage, and
    starts in state new so it enters the queue. Both tickets record the move in their audit.
    """
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise ApplicationError(_("The reason is too long."))
    with transaction.atomic():
        source = Ticket.objects.select_for_update(of=("self",)).get(pk=message.ticket_id)
        message = Message.objects.select_related("author_identity", "channel").get(pk=message.pk)
        if message.ticket_id != source.pk:
            raise StaleObject(_("This message was moved by someone else. Reload and try again."))
        if not policies.can_view(source, actor):
            raise PermissionRefused(_("You cannot see this ticket."))
        if not policies.can_work_care(source, actor):
            raise PermissionRefused(_("You are not allowed to do that on this ticket."))
        if source.state == TicketState.CLOSED or source.merged_into_id:
            raise ApplicationError(_("Messages of a closed or merged ticket stay where they are."))
        if message.direction != Message.Direction.IN:
            raise ApplicationError(_("Only a customer's message can be split off."))
        if not Message.objects.filter(ticket=source).exclude(pk=message.pk).exists():
            raise ApplicationError(_("This is the ticket's only message; there is nothing to split."))
        subject = (subject or "").strip() or message.subject or message.body.strip().split("\n", 1)[0]
        customer = message.author_identity.customer if message.author_identity_id else source.customer
        new = ticket_create(
            channel=message.channel, customer=customer, subject=subject[:300], actor=actor,
            team=source.team, linked_from=source, context=source.context,
            language=source.language, priority=source.priority, intent=source.intent,
            sentiment=source.sentiment, confidential=source.confidential,
        )
        Message.objects.filter(pk=message.pk).update(ticket=new)
        Ticket.objects.filter(pk=new.pk).update(last_customer_message_at=message.created_at)
        new.last_customer_message_at = message.created_at
        remaining = (
            Message.objects.filter(ticket=source, direction=Message.Direction.IN)
            .order_by("-created_at").values_list("created_at", flat=True).first()
        )
        Ticket.objects.filter(pk=source.pk).update(last_customer_message_at=remaining)
        data = {"action": "split", "message_id": message.pk}
        ticket_event_record(
            ticket=source, kind=TicketEvent.Kind.MESSAGE, actor=actor, reason=reason,
            data={**data, "to": new.reference},
        )
        ticket_event_record(
            ticket=new, kind=TicketEvent.Kind.MESSAGE, actor=actor, reason=reason,
            data={**data, "from": source.reference},
        )
    return new
