"""The foundation's pages: login, list (pinned queries), ticket page, HTMX transition buttons, diagram."""

import re

import pytest

from apps.tickets import services
from apps.tickets.models import TicketEvent
from tests.factories import MessageFactory


@pytest.mark.django_db
def test_login_page_and_sign_in(world, client):
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and b"Sign in" in page.content
    response = client.post("/accounts/login/", {"username": "agent", "password": "caretickets"})
    assert response.status_code == 302
    assert client.get("/tickets/").status_code == 200
    client.logout()
    bad = client.post("/accounts/login/", {"username": "agent", "password": "wrong"})
    assert b"didn" in bad.content


@pytest.mark.django_db
def test_pages_need_login(client):
    response = client.get("/tickets/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.django_db
def test_ticket_list_query_count_does_not_grow(world, client, django_assert_num_queries):
    client.force_login(world.agent)

    def count_queries():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/tickets/").status_code == 200
        return len(ctx.captured_queries)

    for _ in range(3):
        MessageFactory(ticket=world.ticket(state="open"))
    few = count_queries()
    for _ in range(30):
        MessageFactory(ticket=world.ticket(state="open"))
    assert count_queries() == few


@pytest.mark.django_db
def test_ticket_page_offers_exactly_the_users_transitions(world, client):
    ticket = world.ticket(state="open")
    MessageFactory(ticket=ticket, body="<script>alert(1)</script> see https://evil.example/x")
    client.force_login(world.agent)
    page = client.get(f"/tickets/{ticket.pk}/").content.decode()
    offered = set(re.findall(r'name="transition" value="([a-z_]+)"', page))
    assert offered == {"claim", "wait_for_customer", "escalate", "resolve"}
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
    assert 'rel="nofollow"' in page

    client.force_login(world.lead)
    page = client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert "assign" in set(re.findall(r'name="transition" value="([a-z_]+)"', page))


@pytest.mark.django_db
def test_outsider_gets_404_and_no_buttons(world, client):
    ticket = world.ticket(state="open")
    client.force_login(world.outsider)
    assert client.get(f"/tickets/{ticket.pk}/").status_code == 404


@pytest.mark.django_db
def test_htmx_transition_updates_the_panel(world, client):
    ticket = world.ticket(state="open")
    client.force_login(world.agent)
    response = client.post(
        f"/tickets/{ticket.pk}/transition/wait_for_customer/", {"version": ticket.version},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="workflow-panel"')
    assert "<html" not in body
    assert "Pending customer" in body
    assert response["HX-Trigger"] == "ticketChanged"
    ticket.refresh_from_db()
    assert ticket.state == "pending_customer"


@pytest.mark.django_db
def test_plain_post_transition_refusal_is_a_403_page_that_explains(world, client):
    ticket = world.ticket(state="open")
    client.force_login(world.agent)
    response = client.post(f"/tickets/{ticket.pk}/transition/assign/", {"version": ticket.version})
    assert response.status_code == 403
    assert "not allowed" in response.content.decode()
    assert not TicketEvent.objects.filter(ticket=ticket).exists()
    assert client.get(f"/tickets/{ticket.pk}/transition/resolve/").status_code == 405
    bad = client.post(f"/tickets/{ticket.pk}/transition/resolve/", {}, headers={"HX-Request": "true"})
    assert bad.status_code == 400


@pytest.mark.django_db
def test_note_with_mention_notifies_colleague(world, client):
    ticket = world.ticket(state="open")
    client.force_login(world.agent)
    client.post(f"/tickets/{ticket.pk}/notes/", {"body": "@agent2 can you check the IBAN?"})
    note = ticket.notes.get()
    assert list(note.mentions.all()) == [world.agent2]
    assert world.agent2.notifications.filter(kind="mention", ticket=ticket).exists()
    client.force_login(world.agent2)
    assert "mentioned you" in client.get("/notifications/").content.decode()


@pytest.mark.django_db
def test_workflow_diagram_is_drawn_from_the_definition(world, client):
    client.force_login(world.agent)
    svg = client.get("/help/workflow.svg")
    assert svg["Content-Type"] == "image/svg+xml"
    text = svg.content.decode()
    for label in ("New", "Open", "Pending customer", "Escalated", "Resolved", "Closed",
                  "Triage", "Escalate", "Transfer", "Return to care", "Reopen", "Close"):
        assert label in text, label
    page = client.get("/help/workflow/").content.decode()
    assert "members of the holding department" in page


@pytest.mark.django_db
def test_state_never_changes_outside_the_service(world):
    """Every state change in the audit trail came with a transition row: no silent writes."""
    ticket = world.ticket(state="new")
    for name in ("triage", "wait_for_customer"):
        ticket = services.ticket_transition(ticket=ticket, transition=name, actor=world.agent)
    rows = list(TicketEvent.objects.filter(ticket=ticket).values_list("from_state", "to_state"))
    assert rows == [("new", "open"), ("open", "pending_customer")]
