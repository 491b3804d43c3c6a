"""Two people acting on one ticket at once: exactly one wins, the other is told to reload."""

import threading

import pytest
from django.db import connection

from apps.core.exceptions import StaleObject
from apps.tickets import services
from apps.tickets.models import Ticket, TicketEvent


@pytest.mark.django_db
def test_stale_version_is_refused_with_a_reload_message(world, client):
    ticket = world.ticket(state="open")
    seen_version = ticket.version
    services.ticket_transition(ticket=ticket, transition="wait_for_customer", actor=world.agent2)
    client.force_login(world.agent)
    response = client.post(
        f"/tickets/{ticket.pk}/transition/resolve/", {"version": seen_version}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 409
    assert "changed by someone else" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.state == "pending_customer"
    assert TicketEvent.objects.filter(ticket=ticket, kind="transition").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_real_connections_racing_exactly_one_succeeds(world):
    ticket = world.ticket(state="open")
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def act(name, user, transition, **params):
        try:
            mine = Ticket.objects.get(pk=ticket.pk)  # each thread: its own connection and its own read
            barrier.wait(timeout=10)
            services.ticket_transition(ticket=mine, transition=transition, actor=user, reason="r", **params)
            outcomes[name] = "ok"
        except StaleObject:
            outcomes[name] = "stale"
        finally:
            connection.close()

    threads = [
        threading.Thread(target=act, args=("resolve", world.agent, "resolve")),
        threading.Thread(target=act, args=("escalate", world.agent2, "escalate"), kwargs={"department": world.legal}),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes.values()) == ["ok", "stale"], outcomes
    ticket.refresh_from_db()
    winner = next(name for name, result in outcomes.items() if result == "ok")
    assert ticket.state == {"resolve": "resolved", "escalate": "escalated"}[winner]
    assert TicketEvent.objects.filter(ticket=ticket, kind="transition").count() == 1
    assert ticket.version == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_agents_claiming_at_once_one_owner(world):
    ticket = world.ticket(state="open")
    barrier = threading.Barrier(2)
    outcomes = {}

    def claim(user):
        try:
            mine = Ticket.objects.get(pk=ticket.pk)
            barrier.wait(timeout=10)
            services.ticket_transition(ticket=mine, transition="claim", actor=user)
            outcomes[user.username] = "ok"
        except StaleObject:
            outcomes[user.username] = "stale"
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(u,)) for u in (world.agent, world.agent2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes.values()) == ["ok", "stale"]
    ticket.refresh_from_db()
    assert ticket.assignee.username == next(k for k, v in outcomes.items() if v == "ok")
