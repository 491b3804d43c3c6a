import pytest
from django.db import DatabaseError, connection, transaction

from apps.tickets import services
from apps.tickets.models import TicketEvent


@pytest.fixture
def event(world):
    ticket = world.ticket(state="new")
    services.ticket_transition(ticket=ticket, transition="triage", actor=world.agent)
    return TicketEvent.objects.get(ticket=ticket, transition="triage")


@pytest.mark.django_db
def test_orm_refuses_to_change_or_delete_audit_rows(event):
    event.reason = "rewritten history"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        TicketEvent.objects.filter(pk=event.pk).update(reason="x")
    with pytest.raises(PermissionError):
        TicketEvent.objects.filter(pk=event.pk).delete()
    event.refresh_from_db()
    assert event.reason == ""


@pytest.mark.postgres
@pytest.mark.django_db
def test_database_trigger_refuses_raw_sql_changes(event):
    for sql in (
        "UPDATE tickets_ticketevent SET reason = 'x' WHERE id = %s",
        "DELETE FROM tickets_ticketevent WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [event.pk])
    assert TicketEvent.objects.filter(pk=event.pk, reason="").exists()


@pytest.mark.django_db
def test_admin_shows_audit_read_only(world, event, client):
    client.force_login(world.admin)
    page = client.get(f"/admin/tickets/ticketevent/{event.pk}/change/")
    assert page.status_code == 200
    assert b'name="reason"' not in page.content
    assert client.post(f"/admin/tickets/ticketevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert TicketEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.django_db
def test_admin_transition_goes_through_the_workflow_service(world, client):
    ticket = world.ticket(state="open")
    client.force_login(world.admin)
    page = client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    assert "wait_for_customer" in page
    response = client.post(
        f"/admin/tickets/ticket/{ticket.pk}/transition/escalate/",
        {"department": world.legal.pk, "reason": "Legal threat"},
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.state == "escalated"
    event = TicketEvent.objects.get(ticket=ticket, transition="escalate")
    assert event.actor == world.admin and event.reason == "Legal threat"
