import pytest

from apps.tickets import services


@pytest.mark.django_db
def test_agent_can_triage_and_page_renders(world, client):
    ticket = world.ticket(state="new")
    services.ticket_transition(ticket=ticket, transition="triage", actor=world.agent)
    ticket.refresh_from_db()
    assert ticket.state == "open"
    client.force_login(world.agent)
    assert ticket.reference in client.get("/tickets/").content.decode()
    page = client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert "Wait for customer" in page
    assert client.get("/help/workflow.svg").status_code == 200
