"""Ingest: store raw deliveries first, then turn each event into a message in the right ticket.

Two steps, two transactions. The webhook stores the verified delivery and one InboundEvent per
item (unique per channel and platform id) and answers; on commit it wakes the processing task,
which takes the waiting events in batches (`inbound_events_process_pending`) and threads each
item into a ticket. Redeliveries and races meet a unique constraint at each step, so one
platform item yields one message however often it arrives.

A batch opens the tickets of first-time authors with no thread to join (a wave of complaints
about an outage) set-based: one insert per table for the whole batch (`_first_contacts_ingest`).
Every other item goes through `item_ingest`, one at a time, in arrival order. Both paths store
the same rows; the tests hold them to that.
"""

import hashlib
import logging
import re
import threading
import time
import traceback
import uuid
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Q
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
    identity_build,
    message_build,
    message_record,
    messages_record,
    ticket_build,
    ticket_event_record,
    ticket_reopen_for_customer,
    tickets_open,
)
from apps.triage.explain import reason
from apps.triage.services import (
    ticket_priority_raise,
    ticket_triage_apply,
    ticket_triage_event,
    triage_classify,
)

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


_wake_lock = threading.Lock()
_wake = {"eta": 0.0}


def wake_seconds() -> float:
    return getattr(settings, "INGEST_WAKE_SECONDS", 0.2)


def processing_wake() -> None:
    """Have the processing task run soon: at most one message per process every few tenths of
    a second, however many deliveries arrive.

    A delivery committed before the run this process queued last is due to start finds it
    queued already: that run starts afterwards and takes every event waiting by then. Otherwise
    a new run is queued to start `wake_seconds()` from now. Publishing a Celery message per
    delivery cost more than storing it. (Eager mode, in tests: every call runs the task.)
    """
    from celery import current_app

    from .tasks import inbound_events_process_pending

    if current_app.conf.task_always_eager:
        inbound_events_process_pending.delay()
        return
    now, window = time.time(), wake_seconds()
    with _wake_lock:
        if _wake["eta"] > now + 0.05:
            return
        inbound_events_process_pending.apply_async(countdown=window)
        _wake["eta"] = now + window


def _wake_on_commit() -> None:
    """Wake processing once the events are committed. Robust: a broker hiccup must not turn a
    stored delivery into an error answer; the stale-event sweep wakes processing again."""
    transaction.on_commit(processing_wake, robust=True)


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
    delivery = (channel.pk, source, body, headers, now)
    events = [
        (channel.pk, key, InboundEvent.Status.IGNORED if item.ignore_reason else InboundEvent.Status.RECEIVED,
         0, item.ignore_reason[:500], "", now, now if item.ignore_reason else None)
        for key, item in unique.items()
    ]
    store = _store_in_one_statement if connection.vendor == "postgresql" else _store_in_a_transaction
    created = store(delivery, events)
    if any(status == InboundEvent.Status.RECEIVED for _pk, status in created):
        _wake_on_commit()
    return Accepted(accepted=len(created), duplicates=len(unique) - len(created))


DELIVERY_FIELDS = ["channel", "source", "body", "headers", "received_at"]
EVENT_INSERT_FIELDS = ["channel", "event_key", "status", "attempts", "detail", "last_error", "created_at",
                       "processed_at"]


def _store_in_a_transaction(delivery: tuple, events: list[tuple]) -> list[tuple]:
    """The delivery, then its events: two inserts in one transaction; (id, status) of the events
    created. A delivery whose events were all stored before is not kept."""
    with transaction.atomic():
        [(delivery_id,)] = _insert_returning(InboundDelivery, DELIVERY_FIELDS, [delivery])
        created = _insert_returning(
            InboundEvent, ["delivery", *EVENT_INSERT_FIELDS], [(delivery_id, *event) for event in events],
            returning=["id", "status"], skip_conflicts_on=["channel", "event_key"],
        )
        if not created:
            InboundDelivery.objects.filter(pk=delivery_id).delete()
    return created


def _store_in_one_statement(delivery: tuple, events: list[tuple]) -> list[tuple]:
    """PostgreSQL: the same in one statement (an INSERT feeding another), one round trip and
    atomic by itself. The webhook's hot path: the BEGIN and COMMIT round trips of a transaction
    cost about as much as the inserts."""
    qn = connection.ops.quote_name
    delivery_columns = [InboundDelivery._meta.get_field(name) for name in DELIVERY_FIELDS]
    event_columns = [InboundEvent._meta.get_field(name) for name in EVENT_INSERT_FIELDS]
    # Typed placeholders: a VALUES list types its columns from its values (a column of NULLs
    # would be text), not from the table it ends up in.
    row = "(" + ", ".join(f"CAST(%s AS {f.db_type(connection)})" for f in event_columns) + ")"
    names = ", ".join(qn(f.column) for f in event_columns)
    unique = ", ".join(qn(InboundEvent._meta.get_field(name).column) for name in ("channel", "event_key"))
    # Only quoted names from the models' own metadata are formatted in; every value is a parameter.
    sql = (
        f"WITH d AS (INSERT INTO {qn(InboundDelivery._meta.db_table)} "  # noqa: S608
        f"({', '.join(qn(f.column) for f in delivery_columns)}) "
        f"VALUES ({', '.join(['%s'] * len(delivery_columns))}) RETURNING id), "
        f"e AS (INSERT INTO {qn(InboundEvent._meta.db_table)} ({qn('delivery_id')}, {names}) "
        f"SELECT d.id, v.* FROM d CROSS JOIN (VALUES {', '.join([row] * len(events))}) AS v ({names}) "
        f"ON CONFLICT ({unique}) DO NOTHING RETURNING id, status) "
        "SELECT d.id, e.id, e.status FROM d LEFT JOIN e ON true"
    )
    params = [f.get_db_prep_save(v, connection) for f, v in zip(delivery_columns, delivery, strict=True)]
    params += [f.get_db_prep_save(v, connection) for event in events for f, v in zip(event_columns, event, strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    created = [(pk, status) for _delivery_id, pk, status in rows if pk is not None]
    if not created:
        InboundDelivery.objects.filter(pk=rows[0][0]).delete()
    return created


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


def _item_of(event: InboundEvent, parsed: dict | None = None) -> InboundItem:
    """The event's item, parsed again from its stored delivery (`parsed` keeps each delivery's
    items for the other events of a batch that came in the same request)."""
    delivery = event.delivery
    items = parsed.get(delivery.pk) if parsed is not None else None
    if items is None:
        items = parse_delivery(
            delivery.source, bytes(delivery.body),
            channel_kind=event.channel.kind, account_id=event.channel.account_id,
        )
        if parsed is not None:
            parsed[delivery.pk] = items
    for item in items:
        if _event_key(item.event_key) == event.event_key:
            return item
    raise LookupError(f"Event {event.event_key} is not in its delivery any more.")


def inbound_event_process(
    *, event_id: int, skip_locked: bool = False, item: InboundItem | None = None
) -> InboundEvent | None:
    """Thread one stored event into a ticket, in its own transaction (idempotent: a processed
    event is left alone). `item` is the event's item when the caller parsed it already.

    The event row is locked for the whole transaction, so a duplicate run waits and then finds
    the event done; with `skip_locked` it leaves an event another worker holds to that worker
    (None). Errors roll everything back and propagate: the caller records the attempt.
    """
    with transaction.atomic():
        _commit_without_waiting_for_disk()
        event = (
            InboundEvent.objects.select_for_update(of=("self",), skip_locked=skip_locked)
            .select_related("channel__team", "delivery")
            .filter(pk=event_id).first()
        )
        if event is None or event.status != InboundEvent.Status.RECEIVED:
            return event
        _done(event, item_ingest(channel=event.channel, item=item or _item_of(event)))
        event.save(update_fields=EVENT_FIELDS)
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


def inbound_event_failure_record(*, event_id: int, error: str) -> None:
    """Count a failed attempt: a retry waits `retry_delay` before the batches take the event
    again; after `max_retries()` retries it is parked as failed for an admin to replay."""
    with transaction.atomic():
        event = InboundEvent.objects.select_for_update().filter(
            pk=event_id, status=InboundEvent.Status.RECEIVED
        ).first()
        if event is None:
            return
        _failed(event, error)
        event.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])


def inbound_event_replay(*, event: InboundEvent) -> bool:
    """Queue a failed (or stuck) event again, with a fresh set of retries."""
    with transaction.atomic():
        replayed = InboundEvent.objects.filter(
            pk=event.pk, status__in=[InboundEvent.Status.FAILED, InboundEvent.Status.RECEIVED]
        ).update(status=InboundEvent.Status.RECEIVED, attempts=0, last_error="", next_attempt_at=None)
        if replayed:
            _wake_on_commit()
    return bool(replayed)


def _due(now: datetime) -> Q:
    return Q(status=InboundEvent.Status.RECEIVED) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))


def inbound_events_requeue_stale(*, older_than: timedelta = STALE_AFTER) -> int:
    """Wake processing for events still waiting long after arrival (the broker was down then).

    Returns how many such events there are; events waiting for their next retry are not stale.
    """
    now = timezone.now()
    stale = InboundEvent.objects.filter(_due(now), created_at__lt=now - older_than).count()
    if stale:
        logger.warning("%d inbound events were waiting since before %s: processing them", stale,
                       now - older_than)
        processing_wake()
    return stale


# --- processing in batches --------------------------------------------------------------------

def batch_size() -> int:
    return getattr(settings, "INGEST_BATCH_SIZE", 200)


def max_retries() -> int:
    return getattr(settings, "INGEST_MAX_RETRIES", 5)


def retry_delay(retries: int) -> int:
    """5 s, 10 s, 20 s, 40 s… capped at 10 minutes."""
    return min(5 * 2**retries, 600)


@dataclass(frozen=True)
class Drained:
    processed: int
    more: bool  # the time budget ran out with events still waiting
    next_retry_at: datetime | None  # the earliest event waiting for a retry


def inbound_events_process_pending(*, limit: int | None = None, budget_seconds: float = 20.0) -> Drained:
    """Process the waiting events, a batch per transaction, until none is due or time is up.

    Workers running this at once share the queue: each batch locks its events and skips those
    locked by another (PostgreSQL); on SQLite, writers take turns anyway.
    """
    limit = limit or batch_size()
    started, processed = time.monotonic(), 0
    while True:
        claimed = _batch_process(limit)
        processed += claimed
        if claimed < limit:
            break
        if time.monotonic() - started > budget_seconds:
            return Drained(processed, True, None)
    next_retry_at = (
        InboundEvent.objects.filter(status=InboundEvent.Status.RECEIVED, next_attempt_at__gt=timezone.now())
        .order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first()
    )
    return Drained(processed, False, next_retry_at)


def _claim(limit: int) -> list[InboundEvent]:
    return list(
        InboundEvent.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("channel__team", "delivery")
        .filter(_due(timezone.now()))
        .order_by("pk")[:limit]
    )


def _batch_process(limit: int) -> int:
    """Claim up to `limit` due events and process them; their number.

    The first contacts among them are stored in the claiming transaction; the other events
    each in a transaction of their own afterwards, so the author locks they take are held for
    one item, not for the whole batch (two workers would otherwise wait on each other's authors).
    """
    try:
        with transaction.atomic():
            _commit_without_waiting_for_disk()
            events = _claim(limit)
            one_by_one = events_ingest(events) if events else []  # (id, item) pairs
    except DatabaseError:
        # The batch as a whole failed (e.g. the connection dropped): nothing of it stayed.
        # Each event then gets its own transaction, so one that keeps failing is counted and
        # parked, and cannot hold the others back.
        logger.exception("An ingest batch failed; processing its events one by one")
        with transaction.atomic():
            ids = [event.pk for event in _claim(limit)]
        for pk in ids:
            _process_alone(pk)
        return len(ids)
    for pk, item in one_by_one:
        _process_alone(pk, item)
    return len(events)


def _process_alone(event_id: int, item: InboundItem | None = None) -> None:
    try:
        inbound_event_process(event_id=event_id, skip_locked=True, item=item)
    except Exception:
        inbound_event_failure_record(event_id=event_id, error=traceback.format_exc(limit=20))


EVENT_FIELDS = ["status", "detail", "message", "ticket", "attempts", "last_error", "processed_at", "next_attempt_at"]


def events_ingest(events: list[InboundEvent]) -> list[tuple[int, InboundItem]]:
    """Store the first contacts among claimed events, set-based, inside the caller's transaction
    and record their outcome; return the others (id and item), in arrival order, for
    `inbound_event_process` to take one at a time.

    An event whose stored bytes cannot be read again is counted as a failed attempt and tried
    again later (parked as failed after `max_retries()` retries).
    """
    parsed: dict[int, list[InboundItem]] = {}
    items: dict[int, InboundItem] = {}
    changed = []
    for event in events:
        try:
            items[event.pk] = _item_of(event, parsed)
        except Exception:
            _failed(event, traceback.format_exc(limit=20))
            changed.append(event)
    by_channel = defaultdict(list)
    one_by_one = []
    for event, first_contact in _first_contacts([e for e in events if e.pk in items], items):
        (by_channel[event.channel_id] if first_contact else one_by_one).append(event)
    for group in by_channel.values():
        try:
            with transaction.atomic():
                outcomes = _first_contacts_ingest(group[0].channel, [(e, items[e.pk]) for e in group])
        except Exception:
            # E.g. a worker opened a ticket for one of these authors a moment ago: the rules of
            # `item_ingest` then decide, one item at a time.
            logger.info("Set-based ingest fell back to one item at a time", exc_info=True)
            one_by_one.extend(group)
            continue
        for event, outcome in zip(group, outcomes, strict=True):
            _done(event, outcome)
            changed.append(event)
    if changed:
        InboundEvent.objects.bulk_update(changed, EVENT_FIELDS)
    return [(event.pk, items[event.pk]) for event in sorted(one_by_one, key=lambda e: e.pk)]


def _done(event: InboundEvent, outcome: Outcome) -> None:
    event.status = outcome.status
    event.detail = outcome.detail[:500]
    event.message = outcome.message
    event.ticket = outcome.ticket
    event.attempts += 1
    event.last_error = ""
    event.processed_at = timezone.now()
    event.next_attempt_at = None


def _failed(event: InboundEvent, error: str) -> None:
    event.attempts += 1
    event.last_error = error[:10_000]
    if event.attempts > max_retries():
        event.status = InboundEvent.Status.FAILED
        event.next_attempt_at = None
        logger.error("Inbound event %s failed for good after %d attempts", event.pk, event.attempts)
    else:
        event.next_attempt_at = timezone.now() + timedelta(seconds=retry_delay(event.attempts - 1))


def _first_contacts(events: list[InboundEvent], items: dict[int, InboundItem]):
    """(event, whether it opens a ticket for a first-time author with no thread to join).

    Such an item is an author's first public words to the brand: inbound, new, pointing at no
    earlier message or ticket, from an identity never seen before, and the author's first item
    in this batch (their later ones follow it, one at a time). Anything else needs the lookups
    of `item_ingest`.
    """
    candidates = {}
    for event in events:
        item = items[event.pk]
        if (
            item.direction == IN and item.action == ADD and not item.ignore_reason
            and not item.parent_external_id and not item.references and not item.ticket_reference
            and not (item.author is not None and item.author.email)
        ):
            candidates[event.pk] = _author_of(item).external_id[:255]
    known = set()
    wanted = defaultdict(set)
    for event in events:
        if event.pk in candidates:
            wanted[event.channel.kind].add(candidates[event.pk])
    for kind, external_ids in wanted.items():
        known.update(
            (kind, external_id) for external_id in Identity.objects.filter(
                channel_kind=kind, external_id__in=external_ids
            ).values_list("external_id", flat=True)
        )
    seen = set()
    for event in events:
        item = items[event.pk]
        author = (event.channel.kind, _author_of(item).external_id[:255])
        first = event.pk in candidates and author not in known and author not in seen
        seen.add(author)
        yield event, first


def _first_contacts_ingest(channel: Channel, pairs: list[tuple[InboundEvent, InboundItem]]) -> list[Outcome]:
    """Open one ticket per item, for authors never seen before: the rows `item_ingest` would
    store for each (customer, identity, ticket with its triage and clocks, audit rows, message),
    written with one insert per table for all of them."""
    identities, tickets, results, messages = [], [], [], []
    for _event, item in pairs:
        author = _author_of(item)
        at = _when(item.created_at)
        identity = identity_build(
            channel_kind=channel.kind, external_id=author.external_id, handle=author.handle,
            display_name=_display_name(channel, author), followers_count=author.followers_count,
        )
        result = triage_classify(
            text=_triage_text(item), channel=channel, identity=identity, customer=identity.customer,
            context=item.context or None,
        )
        identity.customer.language = result.language or ""
        ticket = _new_ticket(channel, identity.customer, item, result, at=at, conversation=item.conversation_key)
        identities.append(identity)
        tickets.append(ticket)
        results.append(result)
        messages.append(_incoming_message(channel, item, ticket, identity, at=at, conversation=item.conversation_key))
    # Identities in a fixed order: two workers inserting overlapping authors wait on each other
    # in the same order instead of deadlocking.
    ordered = sorted(identities, key=lambda i: i.external_id)
    Customer.objects.bulk_create([identity.customer for identity in ordered])
    Identity.objects.bulk_create(ordered)
    tickets_open(tickets)
    TicketEvent.objects.bulk_create([
        ticket_triage_event(ticket=ticket, result=result) for ticket, result in zip(tickets, results, strict=True)
    ])
    messages_record(messages)
    return [
        Outcome(InboundEvent.Status.PROCESSED, _("Opened %(ref)s") % {"ref": ticket.reference}, message, ticket)
        for ticket, message in zip(tickets, messages, strict=True)
    ]


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


def _triage_text(item: InboundItem) -> str:
    return "\n".join(part for part in (item.subject, item.text) if part)


def _new_ticket(channel, customer, item, result, *, at, conversation, linked_from=None, **fields) -> Ticket:
    """The ticket an incoming item opens, triaged, not saved yet (both ingest paths)."""
    return ticket_build(
        channel=channel, customer=customer, subject=item.subject or first_line(item.text),
        team=result.team, created_at=at, conversation_key=conversation, context=item.context,
        linked_from=linked_from, language=result.language, intent=result.intent, sentiment=result.sentiment,
        priority=result.priority, confidential=result.confidential, triage_explanation=result.explanation,
        last_customer_message_at=at, **fields,
    )


def _incoming_message(channel, item, ticket, identity, *, at, conversation) -> Message:
    """The customer's message an incoming item records, not saved yet (both ingest paths)."""
    return message_build(
        ticket=ticket, channel=channel, direction=IN, body=item.text, created_at=at,
        is_public=item.is_public, author_identity=identity, external_id=item.external_id,
        subject=item.subject[:300], parent_external_id=item.parent_external_id[:255],
        conversation_id=conversation[:255], references=list(item.references),
        hashtags=list(item.hashtags), raw=item.raw,
    )


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
    # The post it was written under (a campaign reply wave reads differently from a lone post).
    context = item.context or (ticket.context if ticket is not None else None)
    result = triage_classify(
        text=_triage_text(item), channel=channel, identity=identity, customer=customer, context=context
    )
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
        [ticket] = tickets_open([_new_ticket(
            channel, customer, item, result, at=at, conversation=conversation, linked_from=linked_from,
            **ticket_fields,
        )], actor=actor)
        ticket_triage_apply(ticket=ticket, result=result)
        if result.language and not customer.language:
            Customer.objects.filter(pk=customer.pk).update(language=result.language)
    else:
        ticket = ticket_reopen_for_customer(ticket=ticket, at=at)
        ticket_priority_raise(ticket=ticket, result=result)
    [message] = messages_record([_incoming_message(channel, item, ticket, identity, at=at, conversation=conversation)])
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
