"""Ingest: store raw deliveries first, then turn each event into a message in the right ticket.

Two steps, two transactions. The webhook stores the verified delivery and one InboundEvent per
item (unique per channel and platform id) and answers; a Celery task queued on commit then
threads the item into a ticket with `item_ingest`. Redeliveries and races meet a unique
constraint at each step, so one platform item yields one message however often it arrives.
"""

import hashlib
import logging
import re
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from apps.accounts.models import Team
from apps.tickets import hooks
from apps.tickets.models import (
    OPEN_STATES,
    Channel,
    Customer,
    Identity,
    Message,
    Ticket,
    TicketEvent,
    TicketState,
)
from apps.tickets.services import (
    customer_for_identity,
    message_record,
    ticket_create,
    ticket_event_record,
    ticket_reopen_for_customer,
)
from apps.triage.explain import reason
from apps.triage.services import ticket_priority_raise, ticket_triage_apply, triage_classify

from .adapters import parse_delivery
from .adapters.base import ADD, EDIT, IN, OUT, REMOVE, Author, InboundItem
from .models import InboundDelivery, InboundEvent

logger = logging.getLogger(__name__)

MAX_EVENT_KEY = 300
SUBJECT_CHARS = 200
STALE_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class Accepted:
    accepted: int
    duplicates: int


@dataclass(frozen=True)
class Outcome:
    status: str
    detail: str
    message: Message | None = None
    ticket: Ticket | None = None


def _event_key(key: str) -> str:
    if len(key) <= MAX_EVENT_KEY:
        return key
    # Cutting a long id could make two ids equal; a digest keeps them apart.
    return f"{key[:200]}#{hashlib.sha256(key.encode()).hexdigest()}"


def _enqueue(event_id: int) -> None:
    from .tasks import inbound_event_process

    inbound_event_process.delay(event_id)


def _enqueue_on_commit(event_id: int) -> None:
    """Queue processing once the event is committed. Robust: a broker hiccup must not turn a
    stored delivery into an error answer; the stale-event sweep queues it again."""

    def enqueue():
        _enqueue(event_id)

    transaction.on_commit(enqueue, robust=True)


def inbound_delivery_store(
    *, channel: Channel, source: str, body: bytes, headers: dict, items: list[InboundItem]
) -> Accepted:
    """Persist one verified delivery and an event per item; queue processing after commit.

    Items already stored for this channel (a redelivery) are counted as duplicates and not
    stored again; when every item is a duplicate the delivery itself is not kept either.
    """
    unique: dict[str, InboundItem] = {}
    for item in items:
        unique.setdefault(_event_key(item.event_key), item)
    if not unique:
        return Accepted(accepted=0, duplicates=0)
    now = timezone.now()
    with transaction.atomic():
        [(delivery_id,)] = _insert_returning(
            InboundDelivery, ["channel", "source", "body", "headers", "received_at"],
            [(channel.pk, source, body, headers, now)],
        )
        created = _insert_returning(
            InboundEvent, ["channel", "delivery", "event_key", "status", "attempts", "detail", "last_error",
                           "created_at", "processed_at"],
            [
                (channel.pk, delivery_id, key,
                 InboundEvent.Status.IGNORED if item.ignore_reason else InboundEvent.Status.RECEIVED,
                 0, item.ignore_reason[:500], "", now, now if item.ignore_reason else None)
                for key, item in unique.items()
            ],
            returning=["id", "status"], skip_conflicts_on=["channel", "event_key"],
        )
        if not created:
            InboundDelivery.objects.filter(pk=delivery_id).delete()
        for pk, status in sorted(created):
            if status == InboundEvent.Status.RECEIVED:
                _enqueue_on_commit(pk)
    return Accepted(accepted=len(created), duplicates=len(unique) - len(created))


def _insert_returning(model, fields: list[str], rows: list[tuple], *, returning=("id",),
                      skip_conflicts_on: list[str] | None = None) -> list[tuple]:
    """One INSERT … [ON CONFLICT DO NOTHING] RETURNING statement (PostgreSQL, SQLite ≥ 3.35).

    The webhook's hot path: a single round trip stores the events and tells which ones this
    request created (a concurrent duplicate returns nothing), where the ORM needs an insert and
    a select. Values go through each field's own preparation, so types match on both backends.
    """
    qn = connection.ops.quote_name
    columns = [model._meta.get_field(name) for name in fields]
    row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
    # Only quoted names from the model's own metadata are formatted in; every value is a parameter.
    sql = (
        f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(f.column) for f in columns)}) "  # noqa: S608
        f"VALUES {', '.join([row_sql] * len(rows))}"
    )
    if skip_conflicts_on:
        conflict = ", ".join(qn(model._meta.get_field(name).column) for name in skip_conflicts_on)
        sql += f" ON CONFLICT ({conflict}) DO NOTHING"
    sql += f" RETURNING {', '.join(qn(name) for name in returning)}"
    params = [
        field.get_db_prep_save(value, connection)
        for row in rows for field, value in zip(columns, row, strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _item_of(event: InboundEvent) -> InboundItem:
    delivery = event.delivery
    items = parse_delivery(
        delivery.source, bytes(delivery.body),
        channel_kind=event.channel.kind, account_id=event.channel.account_id,
    )
    for item in items:
        if _event_key(item.event_key) == event.event_key:
            return item
    raise LookupError(f"Event {event.event_key} is not in its delivery any more.")


def inbound_event_process(*, event_id: int) -> InboundEvent | None:
    """Thread one stored event into a ticket (idempotent: a processed event is left alone).

    The event row is locked for the whole transaction, so a replay or a duplicate task waits
    and then finds the event done. Errors roll everything back and propagate to the task,
    which records the attempt and retries.
    """
    with transaction.atomic():
        _commit_without_waiting_for_disk()
        try:
            event = (
                InboundEvent.objects.select_for_update(of=("self",))
                .select_related("channel__team", "delivery")
                .get(pk=event_id)
            )
        except InboundEvent.DoesNotExist:
            return None
        if event.status != InboundEvent.Status.RECEIVED:
            return event
        outcome = item_ingest(channel=event.channel, item=_item_of(event))
        event.status = outcome.status
        event.detail = outcome.detail[:500]
        event.message = outcome.message
        event.ticket = outcome.ticket
        event.attempts += 1
        event.last_error = ""
        event.processed_at = timezone.now()
        event.save(update_fields=[
            "status", "detail", "message", "ticket", "attempts", "last_error", "processed_at"
        ])
    return event


def _commit_without_waiting_for_disk() -> None:
    """PostgreSQL: this transaction's commit returns before its WAL reaches the disk.

    Safe here, and only here: processing is derived from an event the webhook stored with a
    durable commit. Should the server crash in the next fraction of a second, the lost commit
    takes the event's "processed" status with it, and the stale-event sweep processes it again.
    Waiting for the disk on every ticket would otherwise set the pace of the workers.
    """
    if connection.vendor == "postgresql" and getattr(settings, "INGEST_ASYNC_COMMIT", True):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def inbound_event_failure_record(*, event_id: int, error: str, final: bool) -> None:
    """Count a failed attempt; the last one parks the event as failed for an admin to replay."""
    InboundEvent.objects.filter(pk=event_id, status=InboundEvent.Status.RECEIVED).update(
        attempts=F("attempts") + 1,
        last_error=error[:10_000],
        status=InboundEvent.Status.FAILED if final else InboundEvent.Status.RECEIVED,
    )


def inbound_event_replay(*, event: InboundEvent) -> bool:
    """Queue a failed (or stuck) event again, with a fresh set of retries."""
    with transaction.atomic():
        replayed = InboundEvent.objects.filter(
            pk=event.pk, status__in=[InboundEvent.Status.FAILED, InboundEvent.Status.RECEIVED]
        ).update(status=InboundEvent.Status.RECEIVED, attempts=0, last_error="")
        if replayed:
            _enqueue_on_commit(event.pk)
    return bool(replayed)


def inbound_events_requeue_stale(*, older_than: timedelta = STALE_AFTER, limit: int = 1000) -> int:
    """Queue again events still waiting long after arrival (the broker was down at the time)."""
    cutoff = timezone.now() - older_than
    ids = list(
        InboundEvent.objects.filter(status=InboundEvent.Status.RECEIVED, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in ids:
        _enqueue(pk)
    if ids:
        logger.warning("Queued %d inbound events again that were waiting since before %s", len(ids), cutoff)
    return len(ids)


# --- from item to message ---------------------------------------------------------------------

def item_ingest(
    *, channel: Channel, item: InboundItem, ticket: Ticket | None = None, actor=None,
    ticket_fields: dict | None = None, identity: Identity | None = None, fallback_team: Team | None = None,
) -> Outcome:
    """Record one normalized item as a message in the right ticket (PROTOCOLS.md threading).

    `ticket` forces the target ticket (an agent logging a call into one they chose);
    `ticket_fields` go to a new ticket (e.g. is_formal_complaint); `identity` is the author
    when the caller already knows them (the agent form finds customers by e-mail or phone);
    `fallback_team` gets a new ticket no routing rule and no channel team claims.
    """
    if item.ignore_reason:
        return Outcome(InboundEvent.Status.IGNORED, item.ignore_reason)
    if item.action in (EDIT, REMOVE):
        existing = (
            Message.objects.select_for_update(of=("self",)).select_related("ticket")
            .filter(channel=channel, external_id=item.external_id).first()
        )
        if existing is not None:
            if item.action == REMOVE:
                return _message_remove(existing, item)
            return _message_edit(existing, item)
        if item.action == REMOVE:
            return Outcome(InboundEvent.Status.IGNORED, _("Removed before we recorded it."))
        item = replace(item, action=ADD)  # an edit of a comment we never saw: keep its words
    # No look-up first: a message seen before (our own published reply coming back, an item
    # redelivered under another event id) meets the unique constraint and is rolled back.
    try:
        with transaction.atomic():
            if item.direction == OUT:
                return _record_outgoing(channel, item)
            return _record_incoming(
                channel, item, ticket=ticket, actor=actor, ticket_fields=ticket_fields or {}, identity=identity,
                fallback_team=fallback_team,
            )
    except IntegrityError:
        if item.external_id and Message.objects.filter(channel=channel, external_id=item.external_id).exists():
            return Outcome(InboundEvent.Status.IGNORED, _("Already recorded."))
        raise


def _when(at: datetime | None) -> datetime:
    now = timezone.now()
    return min(at, now) if at is not None else now


def first_line(text: str) -> str:
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return Truncator(line).chars(SUBJECT_CHARS)


def _follow_merges(ticket: Ticket) -> Ticket:
    seen = set()
    while ticket.merged_into_id and ticket.pk not in seen:
        seen.add(ticket.pk)
        ticket = Ticket.objects.get(pk=ticket.merged_into_id)
    return ticket


def _pointer_message(channel: Channel, item: InboundItem) -> Message | None:
    pointers = [p for p in dict.fromkeys((item.parent_external_id, *item.references)) if p]
    if not pointers:
        return None
    return (
        Message.objects.filter(channel=channel, external_id__in=pointers)
        .select_related("ticket").order_by("-created_at", "-pk").first()
    )


def _thread(channel: Channel, item: InboundItem, customer: Customer) -> tuple[Ticket | None, str, str]:
    """(ticket, why, conversation key) by the rule order of PROTOCOLS.md; None means a new ticket."""
    parent = _pointer_message(channel, item)
    if parent is not None:
        ticket = _follow_merges(parent.ticket)
        return ticket, _("reply to a message of %(ref)s") % {"ref": ticket.reference}, (
            parent.conversation_id or item.conversation_key
        )
    if item.ticket_reference:
        ticket = Ticket.objects.filter(pk=item.ticket_reference, customer=customer).first()
        if ticket is not None:
            ticket = _follow_merges(ticket)
            return ticket, _("subject names %(ref)s") % {"ref": ticket.reference}, item.conversation_key
    open_tickets = list(
        Ticket.objects.filter(channel=channel, customer=customer, state__in=OPEN_STATES)
        .order_by("-created_at", "-pk")[:50]
    )
    if item.conversation_key:
        for ticket in open_tickets:
            if ticket.conversation_key == item.conversation_key:
                return ticket, _("same conversation, same author"), item.conversation_key
    if open_tickets:
        return open_tickets[0], _("same author, open ticket on this channel"), item.conversation_key
    return None, "", item.conversation_key


def _author_of(item: InboundItem) -> Author:
    if item.author is not None and item.author.external_id:
        return item.author
    return Author(external_id=f"anonymous:{item.external_id}")


def _display_name(channel: Channel, author: Author) -> str:
    if author.name or author.handle:
        return author.name or author.handle
    short = author.external_id.rsplit(":", 1)[-1][-6:]
    return _("%(network)s user …%(id)s") % {"network": channel.get_kind_display(), "id": short}


def _record_incoming(channel, item, *, ticket, actor, ticket_fields, identity, fallback_team) -> Outcome:
    at = _when(item.created_at)
    if identity is None:
        author = _author_of(item)
        _customer, identity = customer_for_identity(
            channel_kind=channel.kind, external_id=author.external_id, handle=author.handle,
            display_name=_display_name(channel, author), followers_count=author.followers_count,
            email=author.email,
        )
    customer = identity.customer
    # One author's items are threaded one at a time: the posts of a thread, processed in
    # parallel, must not open two tickets when the rules say one.
    list(Identity.objects.select_for_update().filter(pk=identity.pk).values_list("pk", flat=True))
    why = _("chosen by %(user)s") % {"user": actor} if ticket is not None else ""
    conversation = item.conversation_key
    if ticket is not None:
        ticket = _follow_merges(ticket)
    else:
        ticket, why, conversation = _thread(channel, item, customer)
    text = "\n".join(part for part in (item.subject, item.text) if part)
    # The post it was written under (a campaign reply wave reads differently from a lone post).
    context = item.context or (ticket.context if ticket is not None else None)
    result = triage_classify(text=text, channel=channel, identity=identity, customer=customer, context=context)
    if result.team is None and fallback_team is not None:
        routing = [*result.explanation.get("routing", []), reason(
            gettext_noop("Team %(team)s: the team of the person who logged it."), team=str(fallback_team),
        )]
        result = replace(result, team=fallback_team, explanation={**result.explanation, "routing": routing})
    linked_from = None
    if ticket is not None and ticket.state == TicketState.CLOSED:
        linked_from, ticket = ticket, None
        if linked_from.confidential and not result.confidential:
            # The follow-up of an HR case stays with HR: confidential, like the case it continues.
            routing = [*result.explanation.get("routing", []), reason(
                gettext_noop("Confidential: follow-up of confidential %(ref)s."), ref=linked_from.reference,
            )]
            result = replace(result, confidential=True, explanation={**result.explanation, "routing": routing})
    created = ticket is None
    if created:
        ticket = ticket_create(
            channel=channel, customer=customer, subject=item.subject or first_line(item.text),
            actor=actor, team=result.team, created_at=at, conversation_key=conversation,
            context=item.context, linked_from=linked_from, language=result.language,
            intent=result.intent, sentiment=result.sentiment, priority=result.priority,
            confidential=result.confidential, triage_explanation=result.explanation,
            last_customer_message_at=at, **ticket_fields,
        )
        ticket_triage_apply(ticket=ticket, result=result)
        if result.language and not customer.language:
            Customer.objects.filter(pk=customer.pk).update(language=result.language)
    else:
        ticket = ticket_reopen_for_customer(ticket=ticket, at=at)
        ticket_priority_raise(ticket=ticket, result=result)
    message = message_record(
        ticket=ticket, channel=channel, direction=IN, body=item.text, created_at=at,
        is_public=item.is_public, author_identity=identity, external_id=item.external_id,
        subject=item.subject[:300], parent_external_id=item.parent_external_id[:255],
        conversation_id=conversation[:255], references=list(item.references),
        hashtags=list(item.hashtags), raw=item.raw,
    )
    if created:
        detail = _("Opened %(ref)s") % {"ref": ticket.reference}
        if linked_from is not None:
            detail += " " + _("(follow-up of closed %(ref)s)") % {"ref": linked_from.reference}
    else:
        detail = _("Added to %(ref)s: %(why)s") % {"ref": ticket.reference, "why": why}
    return Outcome(InboundEvent.Status.PROCESSED, detail, message, ticket)


def _record_outgoing(channel, item) -> Outcome:
    """The brand's own post or message (echo): recorded in its ticket, never a new ticket."""
    parent = _pointer_message(channel, item)
    ticket = _follow_merges(parent.ticket) if parent is not None else None
    if ticket is None and item.conversation_key:
        ticket = (
            Ticket.objects.filter(channel=channel, conversation_key=item.conversation_key)
            .order_by("-created_at", "-pk").first()
        )
    if ticket is None:
        return Outcome(InboundEvent.Status.IGNORED, _("Our own post, answering no ticket."))
    message = message_record(
        ticket=ticket, channel=channel, direction=OUT, body=item.text, created_at=_when(item.created_at),
        is_public=item.is_public, external_id=item.external_id, is_automatic=False,
        parent_external_id=item.parent_external_id[:255], conversation_id=item.conversation_key[:255],
        references=list(item.references), hashtags=list(item.hashtags), raw=item.raw,
    )
    return Outcome(
        InboundEvent.Status.PROCESSED, _("Our reply recorded in %(ref)s") % {"ref": ticket.reference},
        message, ticket,
    )


def _message_edit(message: Message, item: InboundItem) -> Outcome:
    if message.body == item.text:
        return Outcome(InboundEvent.Status.IGNORED, _("Edited without changing the text."), message, message.ticket)
    previous = message.body
    message.body = item.text[: settings.MESSAGE_MAX_CHARS]
    message.edited_at = _when(item.created_at)
    message.save(update_fields=["body", "edited_at"])
    ticket = message.ticket
    ticket_event_record(
        ticket=ticket, kind=TicketEvent.Kind.MESSAGE,
        reason=_("The author edited their message on the platform."),
        data={"message_id": message.pk, "edited": True, "previous_body": previous[:2000]},
    )
    # Derived from the text, like at intake: e.g. personal data the author added (or removed).
    hooks.emit("message_edited", message=message, at=message.edited_at)
    if message.direction == IN:
        result = triage_classify(
            text=message.body, channel=message.channel, identity=message.author_identity,
            customer=ticket.customer, context=ticket.context,
        )
        ticket_priority_raise(ticket=ticket, result=result)
    return Outcome(
        InboundEvent.Status.PROCESSED, _("Edited a message of %(ref)s") % {"ref": ticket.reference},
        message, ticket,
    )


def _message_remove(message: Message, item: InboundItem) -> Outcome:
    if message.is_removed:
        return Outcome(InboundEvent.Status.IGNORED, _("Already marked removed."), message, message.ticket)
    message.is_removed = True
    message.save(update_fields=["is_removed"])
    ticket_event_record(
        ticket=message.ticket, kind=TicketEvent.Kind.MODERATION,
        reason=_("The author removed their message on the platform."),
        data={"message_id": message.pk, "removed": True},
    )
    return Outcome(
        InboundEvent.Status.PROCESSED,
        _("Marked a message of %(ref)s removed") % {"ref": message.ticket.reference},
        message, message.ticket,
    )


# --- contacts logged by hand ------------------------------------------------------------------

INTAKE_KINDS = (Channel.Kind.LETTER, Channel.Kind.CERTIFIED_EMAIL, Channel.Kind.PHONE)


def intake_channel(kind: str) -> Channel:
    """The channel hand-logged contacts of this kind arrive on, created the first time."""
    channel = Channel.objects.filter(kind=kind, is_active=True).order_by("pk").first()
    if channel is None:
        channel, _created = Channel.objects.get_or_create(
            slug=f"intake-{kind.replace('_', '-')}",
            defaults={"kind": kind, "name": Channel.Kind(kind).label, "sandbox": True},
        )
    return channel


def normalize_phone(phone: str) -> str:
    digits = re.sub(r"[^\d+]", "", phone or "")
    return "+" + digits[2:] if digits.startswith("00") else digits


def _contact_customer(*, name: str, email: str, phone: str, ticket: Ticket | None) -> Customer:
    customer = None
    if email:
        customer = Customer.objects.filter(email__iexact=email, erased_at__isnull=True).order_by("pk").first()
    if customer is None and phone:
        customer = Customer.objects.filter(phone=phone, erased_at__isnull=True).order_by("pk").first()
    if customer is None and ticket is not None and not (email or phone):
        customer = ticket.customer
    if customer is None:
        return Customer.objects.create(display_name=(name or email or phone)[:200], email=email, phone=phone)
    missing = {
        field: value for field, value in (("display_name", name[:200]), ("email", email), ("phone", phone))
        if value and not getattr(customer, field)
    }
    if missing:
        Customer.objects.filter(pk=customer.pk).update(**missing)
        for field, value in missing.items():
            setattr(customer, field, value)
    return customer


def contact_log(
    *, actor, kind: str, text: str, received_at: datetime, subject: str = "", name: str = "",
    email: str = "", phone: str = "", ticket: Ticket | None = None, is_formal_complaint: bool = False,
) -> Outcome:
    """An agent logs a letter, certified e-mail or phone call into a new or an existing ticket.

    The customer is found by e-mail, then phone, or created; the contact is then threaded and
    triaged like any inbound message. Without an explicit ticket it joins the customer's open
    ticket on the same channel, or opens one (a formal complaint when ticked).
    """
    if kind not in INTAKE_KINDS:
        raise ValueError(f"Not a hand-logged kind: {kind}")
    email = (email or "").strip().lower()
    phone = normalize_phone(phone)
    name = (name or "").strip()
    channel = intake_channel(kind)
    with transaction.atomic():
        customer = _contact_customer(name=name, email=email, phone=phone, ticket=ticket)
        identity, _created = Identity.objects.get_or_create(
            channel_kind=kind, external_id=(email or phone or f"customer:{customer.pk}")[:255],
            defaults={"customer": customer, "display_name": name[:255] or str(customer)},
        )
        item = InboundItem(
            platform=kind, event_key=f"intake:{uuid.uuid4()}", external_id="",
            kind="dm" if kind == Channel.Kind.PHONE else "mail", text=text.strip(),
            subject=subject.strip()[:300], created_at=received_at, is_public=False,
            author=Author(external_id=identity.external_id, name=name, email=email),
            raw={"logged_by": actor.username, "kind": kind},
        )
        fallback_team = None if channel.team_id else actor.teams.order_by("name").first()
        return item_ingest(
            channel=channel, item=item, ticket=ticket, actor=actor, identity=identity,
            fallback_team=fallback_team, ticket_fields={"is_formal_complaint": is_formal_complaint},
        )
