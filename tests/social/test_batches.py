"""Processing in batches: first-time authors go set-based, everything else one item at a time,
and both paths store the same rows."""

import json
import re
import time

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.sla.models import SlaClock, SlaEvent
from apps.social import services
from apps.social.adapters import parse_delivery
from apps.social.models import InboundEvent
from apps.tickets.models import Customer, Identity, Message, Ticket
from tests.social.conftest import BRAND_X_ID
from tests.social.test_concurrency import run_together

pytestmark = pytest.mark.django_db

TEXTS = [
    ("@BancaEsempio da tre giorni la carta è bloccata e nessuno risponde in chat. #bancachenoncera", 120),
    ("@BancaEsempio Ik wacht al drie weken op mijn terugbetaling. Dit is gewoon onacceptabel.", 40),
    ("@BancaEsempio your app is down again, can't log in since this morning. Anyone else?", 15),
    ("@BancaEsempio mi avete venduto una polizza con costi nascosti, ho già sentito il mio avvocato", 800),
    ("@BancaEsempio my IBAN is NL91ABNA0417164300 and the refund still has not arrived", 3),
    ("@BancaEsempio thanks for sorting my card so quickly, great service!", 250_000),
]


# One instant for every tweet of a test run, so the two paths are compared on equal terms.
SENT_AT = time.strftime("%a %b %d %H:%M:%S +0000 %Y", time.gmtime())


def tweet(n: int, text: str, followers: int, *, user: str | None = None, reply_to: str | None = None,
          who: int | None = None) -> bytes:
    who = n if who is None else who
    return json.dumps({
        "for_user_id": BRAND_X_ID,
        "tweet_create_events": [{
            "created_at": SENT_AT,
            "id_str": f"19{n:08d}",
            "text": text,
            "truncated": False,
            "in_reply_to_status_id_str": reply_to,
            "user": {"id_str": user or f"29{n:08d}", "screen_name": f"customer{who}", "name": f"Customer {who}",
                     "followers_count": followers},
            "entities": {"hashtags": [], "user_mentions": []},
        }],
    }).encode()


def store(channel, body: bytes) -> None:
    items = parse_delivery("x", body, channel_kind=channel.kind, account_id=channel.account_id)
    with transaction.atomic():
        services.inbound_delivery_store(channel=channel, source="x", body=body, headers={}, items=items)


@pytest.fixture
def waiting(channels, django_capture_on_commit_callbacks):
    """Store deliveries without processing them: they wait for a batch."""

    def _store(*bodies):
        with django_capture_on_commit_callbacks(execute=False):
            for body in bodies:
                store(channels.x, body)

    return _store


@pytest.fixture
def one_at_a_time(monkeypatch):
    """Count the items that take the one-at-a-time path."""
    seen = []
    original = services.item_ingest

    def counting(**kwargs):
        seen.append(kwargs["item"].external_id)
        return original(**kwargs)

    monkeypatch.setattr(services, "item_ingest", counting)
    return seen


def snapshot(ticket: Ticket) -> dict:
    """What an agent, a lead or an auditor sees of a ticket, without ids that differ by design."""
    customer = ticket.customer
    identity = customer.identities.get()
    [message] = ticket.messages.all()
    return {
        "customer": (customer.display_name, customer.email, customer.language),
        "identity": (identity.handle, identity.display_name, identity.followers_count),
        "ticket": {
            field: getattr(ticket, field) for field in (
                "subject", "team_id", "state", "priority", "language", "intent", "sentiment", "confidential",
                "triage_explanation", "created_at", "last_customer_message_at", "first_response_due",
                "resolution_due", "next_response_due", "sla_due", "sla_status", "context", "linked_from_id",
            )
        },
        "audit": [
            (e.kind, e.to_state, e.data, e.created_at == ticket.created_at)
            for e in ticket.events.order_by("pk")
        ],
        "clocks": [
            (c.kind, c.state, c.target, c.due_at, c.warn_at, c.policy_id, c.calendar_id)
            for c in SlaClock.objects.filter(ticket=ticket).order_by("kind")
        ],
        "clock_events": sorted((e.kind, e.clock.kind, e.at) for e in SlaEvent.objects.filter(ticket=ticket)),
        "message": (
            message.direction, message.body, message.subject, message.is_public, message.pii_flags,
            message.hashtags, message.references, message.created_at, message.author_identity_id == identity.pk,
        ),
    }


def test_first_time_authors_get_the_same_tickets_as_one_at_a_time(channels, waiting, one_at_a_time):
    # The same six complaints, once through a batch, once item by item (other tweet and author ids).
    waiting(*[tweet(n, text, followers) for n, (text, followers) in enumerate(TEXTS)])
    assert services.inbound_events_process_pending().processed == len(TEXTS)
    assert one_at_a_time == []  # all six went set-based
    batch = list(Ticket.objects.order_by("pk"))

    for n, (text, followers) in enumerate(TEXTS, start=100):
        [item] = parse_delivery("x", tweet(n, text, followers, who=n - 100), channel_kind="x", account_id=BRAND_X_ID)
        with transaction.atomic():
            services.item_ingest(channel=channels.x, item=item)
    single = list(Ticket.objects.order_by("pk"))[len(TEXTS):]

    assert [snapshot(t) for t in batch] == [snapshot(t) for t in single]
    # What the snapshots hold is worth comparing: triaged, timed and flagged.
    lawyer, iban, praise = batch[3], batch[4], batch[5]
    assert lawyer.priority in ("high", "urgent") and lawyer.language == "it"
    assert iban.messages.get().pii_flags and praise.sentiment == "positive"
    assert all(t.first_response_due and t.sla_status == "ok" for t in batch)
    assert {e.detail for e in InboundEvent.objects.all()} == {f"Opened {t.reference}" for t in batch}


def test_a_batch_costs_the_same_statements_for_ten_or_fifty_first_contacts(channels, waiting):
    def statements(count, offset):
        waiting(*[tweet(offset + n, *TEXTS[n % len(TEXTS)]) for n in range(count)])
        with CaptureQueriesContext(connection) as queries:
            assert services.inbound_events_process_pending().processed == count
        # What each statement does; an insert SQLite splits (999 parameters at most) counts once.
        kinds = [re.sub(r'"s\d+_x\d+"', "", q["sql"])[:40] for q in queries]
        return [kind for n, kind in enumerate(kinds) if n == 0 or kind != kinds[n - 1]]

    statements(2, 5000)  # the first run loads the triage rules and the SLA calendars
    ten, fifty = statements(10, 0), statements(50, 1000)
    assert ten == fifty and len(fifty) <= 21
    assert Ticket.objects.count() == 62 and Message.objects.count() == 62


def test_repeat_authors_and_replies_in_a_batch_are_threaded_in_arrival_order(channels, waiting, one_at_a_time):
    # Earlier contact: an open ticket for author 7.
    waiting(tweet(1, "@BancaEsempio la carta non funziona", 10, user="297"))
    services.inbound_events_process_pending()
    [existing] = Ticket.objects.all()
    waiting(
        tweet(2, "@BancaEsempio vi ho scritto ieri, ancora niente", 10, user="297"),   # known author
        tweet(3, "@BancaEsempio app down for me too", 10, user="298"),                # new author
        tweet(4, "@BancaEsempio and now the card is blocked as well", 10, user="298"),  # same new author
        tweet(5, "@BancaEsempio same here!", 10, user="299", reply_to="1900000003"),  # reply to the third
    )
    assert services.inbound_events_process_pending().processed == 4
    assert existing.messages.count() == 2
    second = Ticket.objects.exclude(pk=existing.pk).get(customer__identities__external_id="298")
    # The reply (another author) joins the thread it answers.
    assert list(second.messages.values_list("external_id", flat=True)) == ["1900000003", "1900000004", "1900000005"]
    assert Ticket.objects.count() == 2
    assert one_at_a_time == ["1900000002", "1900000004", "1900000005"]  # only "298"'s first went set-based
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"processed"}


def test_an_author_created_meanwhile_sends_the_batch_one_at_a_time(channels, waiting, monkeypatch, one_at_a_time):
    waiting(*[tweet(n, *TEXTS[n]) for n in range(3)])
    real = Identity.objects.bulk_create

    def raced(objs, **kwargs):
        # Another worker stored one of these authors a moment ago.
        raise IntegrityError('duplicate key value violates unique constraint "identity_unique_per_network"')

    monkeypatch.setattr(Identity.objects, "bulk_create", raced)
    assert services.inbound_events_process_pending().processed == 3
    monkeypatch.setattr(Identity.objects, "bulk_create", real)
    assert len(one_at_a_time) == 3
    assert Ticket.objects.count() == 3 and Customer.objects.count() == 3  # nothing of the failed insert stayed
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"processed"}


def test_events_waiting_for_a_retry_are_not_taken_before_their_time(channels, waiting):
    waiting(tweet(1, *TEXTS[0]), tweet(2, *TEXTS[1]))
    later = timezone.now() + timezone.timedelta(minutes=5)
    first = InboundEvent.objects.order_by("pk").first()
    InboundEvent.objects.filter(pk=first.pk).update(next_attempt_at=later, attempts=1)
    drained = services.inbound_events_process_pending()
    assert drained.processed == 1 and drained.next_retry_at == later
    first.refresh_from_db()
    assert first.status == "received" and first.message_id is None


def test_a_run_out_of_time_says_more_is_waiting(channels, waiting):
    waiting(*[tweet(n, *TEXTS[n % 6]) for n in range(5)])
    drained = services.inbound_events_process_pending(limit=2, budget_seconds=0)
    assert (drained.processed, drained.more) == (2, True)
    assert InboundEvent.objects.filter(status="received").count() == 3


def test_webhooks_wake_processing_a_few_times_a_second_not_per_delivery(monkeypatch, settings):
    from apps.social import tasks
    from caretickets.celery import app

    queued = []
    monkeypatch.setattr(tasks.inbound_events_process_pending, "apply_async",
                        lambda **kwargs: queued.append(kwargs["countdown"]))
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    monkeypatch.setitem(services._wake, "eta", 0.0)
    clock = [1000.0]
    monkeypatch.setattr(services, "time", type("Clock", (), {"time": staticmethod(lambda: clock[0])}))
    settings.INGEST_WAKE_SECONDS = 0.2
    for _ in range(50):  # a burst within a tenth of a second: one run, after the burst
        services.processing_wake()
        clock[0] += 0.002
    assert queued == [0.2]
    clock[0] = 1000.16  # the queued run starts in 0.04 s: too close to count on it
    services.processing_wake()
    assert queued == [0.2, 0.2]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_share_the_waiting_events_and_process_each_once(channels, monkeypatch):
    monkeypatch.setattr(services, "_wake_on_commit", lambda: None)  # the two workers below do it
    for n in range(120):
        store(channels.x, tweet(n, *TEXTS[n % len(TEXTS)]))
    # The same author again, at the end of the queue: whichever worker takes it threads it.
    store(channels.x, tweet(500, "@BancaEsempio still nothing", 5, user="2900000007"))

    results = run_together(lambda: services.inbound_events_process_pending(limit=25).processed, count=2)
    assert sum(results) == 121 and all(results)  # both took a share
    assert set(InboundEvent.objects.values_list("status", "attempts")) == {("processed", 1)}
    assert Ticket.objects.count() == 120 and Message.objects.count() == 121
    assert Message.objects.get(external_id="1900000500").ticket == Message.objects.get(
        external_id="1900000007").ticket
