"""`generate_tickets`: the benchmark data set, small enough here to run on SQLite and PostgreSQL."""

from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.tickets import selectors, services
from apps.tickets.generate import generate_tickets
from apps.tickets.models import OPEN_STATES, Message, SlaStatus, Ticket, TicketEvent, TicketState

N = 300


@pytest.fixture
def generated(world):
    now = timezone.now()
    first, last = generate_tickets(N, seed=7, now=now, batch_size=120)
    return Ticket.objects.filter(pk__range=(first, last)), now, (first, last)


@pytest.mark.django_db
def test_creates_n_tickets_with_threads_and_audit(generated):
    tickets, now, (first, last) = generated
    assert last - first + 1 == N
    assert tickets.count() == N
    per_ticket = Counter(Message.objects.filter(ticket__in=tickets).values_list("ticket_id", flat=True))
    assert len(per_ticket) == N and set(per_ticket.values()) <= {1, 2, 3, 4}
    assert TicketEvent.objects.filter(ticket__in=tickets, kind="created").count() == N
    # Every transition is in the audit: the version counts them, as ticket_transition would.
    transitions = Counter(
        TicketEvent.objects.filter(ticket__in=tickets, kind="transition").values_list("ticket_id", flat=True)
    )
    for ticket in tickets:
        assert transitions.get(ticket.pk, 0) == ticket.version - 1
    last_events = {
        e.ticket_id: e.to_state
        for e in TicketEvent.objects.filter(ticket__in=tickets).order_by("created_at", "pk")
    }
    assert all(last_events[t.pk] == t.state for t in tickets)


@pytest.mark.django_db
def test_proportions_look_like_a_care_desk(generated):
    tickets, now, _ = generated
    states = Counter(tickets.values_list("state", flat=True))
    assert set(states) == set(TicketState.values)
    assert states.most_common(1)[0][0] == TicketState.CLOSED
    languages = Counter(tickets.values_list("language", flat=True))
    assert languages["it"] > languages["nl"] > 0 and languages["en"] > 0
    kinds = Counter(tickets.values_list("channel__kind", flat=True))
    assert kinds.most_common(1)[0][0] == "x" and len(kinds) >= 6
    ages = [now - t for t in tickets.values_list("created_at", flat=True)]
    assert min(ages) < timedelta(days=1) and timedelta(days=20) < max(ages) <= timedelta(days=30)
    assert all(t.messages.order_by("created_at").first().created_at == t.created_at for t in tickets[:50])


@pytest.mark.django_db
def test_deadlines_match_the_state(generated):
    tickets, now, _ = generated
    assert not tickets.filter(state__in=["resolved", "closed"], sla_due__isnull=False).exists()
    running = tickets.filter(state__in=["new", "open", "escalated"])
    assert not running.filter(sla_due__isnull=True).exists()
    breached = running.filter(sla_due__lt=now)
    assert set(breached.values_list("sla_status", flat=True)) <= {SlaStatus.BREACHED}
    assert breached.count() <= 0.2 * running.count()
    assert not tickets.filter(sla_due__gt=now + timedelta(days=5)).exists()
    assert all(t.resolved_at and t.closed_at > t.resolved_at for t in tickets.filter(state="closed"))
    escalated = tickets.filter(state="escalated")
    assert not escalated.filter(department__isnull=True).exists()
    assert not escalated.filter(confidential=True).exclude(department__confidential=True).exists()


@pytest.mark.django_db
def test_generated_tickets_work_with_the_workflow_and_visibility(generated, world):
    tickets, _, (first, last) = generated
    ticket = tickets.filter(state="open", confidential=False).first()
    assignee = ticket.assignee
    services.ticket_transition(ticket=ticket, transition="resolve", actor=assignee)
    ticket.refresh_from_db()
    assert ticket.state == "resolved"
    assert not selectors.ticket_visible_qs(world.agent).filter(pk__range=(first, last), confidential=True).exists()
    # Ids were reserved from the sequences: what the application creates next does not collide.
    new = services.ticket_create(channel=ticket.channel, customer=ticket.customer, subject="After")
    assert new.pk > last


@pytest.mark.django_db
def test_open_only_and_same_seed_same_data(world):
    now = timezone.now()
    first, last = generate_tickets(80, seed=3, open_only=True, now=now)
    again_first, again_last = generate_tickets(80, seed=3, open_only=True, now=now)
    one = list(Ticket.objects.filter(pk__range=(first, last)).order_by("pk").values_list(
        "state", "channel_id", "language", "priority", "created_at"))
    two = list(Ticket.objects.filter(pk__range=(again_first, again_last)).order_by("pk").values_list(
        "state", "channel_id", "language", "priority", "created_at"))
    assert one == two
    assert {state for state, *_ in one} <= set(OPEN_STATES)


@pytest.mark.django_db
def test_command_reports_what_it_created(world):
    out = StringIO()
    call_command("generate_tickets", "40", "--seed", "2", "--batch", "15", stdout=out)
    text = out.getvalue()
    assert "40 tickets" in text and "rows/s" in text
    assert Ticket.objects.count() == 40


@pytest.mark.django_db
def test_command_refuses_nonsense(world):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("generate_tickets", "0")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_parallel_workers_write_the_same_data_over_their_own_connections():
    from tests.factories import build_world

    build_world()
    now = timezone.now()
    first, last = generate_tickets(200, seed=5, now=now, batch_size=40, workers=3)
    again_first, again_last = generate_tickets(200, seed=5, now=now, batch_size=40, workers=1)
    tickets = Ticket.objects.filter(pk__range=(first, last))
    assert tickets.count() == 200
    assert TicketEvent.objects.filter(ticket__in=tickets, kind="created").count() == 200
    fields = ("state", "channel_id", "language", "priority", "created_at", "sla_due")
    parallel = list(tickets.order_by("pk").values_list(*fields))
    serial = list(Ticket.objects.filter(pk__range=(again_first, again_last)).order_by("pk").values_list(*fields))
    assert parallel == serial
    assert Message.objects.filter(ticket__in=tickets).count() == Message.objects.filter(
        ticket__pk__range=(again_first, again_last)
    ).count()
