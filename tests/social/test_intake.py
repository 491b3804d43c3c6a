"""Agents log letters, certified e-mail and phone calls by hand."""

import pytest
from django.utils import timezone

from apps.tickets import services as ticket_services
from apps.tickets.models import Channel, Customer, Identity, Message, Ticket, TicketEvent
from apps.triage.explain import render_explanation

pytestmark = pytest.mark.django_db

URL = "/intake/log/"


def form(**overrides):
    data = {
        "kind": "letter",
        "received_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "name": "Anna Ferri",
        "email": "",
        "phone": "",
        "ticket_reference": "",
        "subject": "Raccomandata: rimborso promesso mai arrivato",
        "text": "Spett.le banca, a dicembre mi avete promesso il rimborso delle spese. Non è arrivato nulla.",
    }
    data.update(overrides)
    return data


def test_page_renders_for_agents_only(client, world):
    client.force_login(world.agent)
    page = client.get(URL)
    assert page.status_code == 200
    body = page.content.decode()
    assert 'action="/intake/log/"' in body and "Certified e-mail" in body and "Formal complaint" in body
    client.force_login(world.compliance_user)
    assert client.get(URL).status_code == 403
    client.logout()
    assert client.get(URL).status_code == 302


def test_letter_opens_a_formal_complaint_ticket_in_the_agents_team(client, world):
    client.force_login(world.agent)
    response = client.post(URL, form(email="anna.ferri@example.it", phone="0039 333 123 4567",
                                     is_formal_complaint="on"))
    ticket = Ticket.objects.get()
    assert response.status_code == 302 and response["Location"] == ticket.get_absolute_url()
    assert ticket.channel.kind == Channel.Kind.LETTER and ticket.team == world.care
    assert ticket.is_formal_complaint and ticket.state == "new"
    assert ticket.subject == "Raccomandata: rimborso promesso mai arrivato"
    assert ticket.customer.email == "anna.ferri@example.it" and ticket.customer.phone == "+393331234567"
    message = ticket.messages.get()
    assert message.direction == "in" and not message.is_public and message.external_id is None
    created = TicketEvent.objects.get(ticket=ticket, kind="created")
    assert created.actor == world.agent
    assert any("the person who logged it" in r for r in render_explanation(ticket.triage_explanation)["routing"])
    follow = client.get(response["Location"])
    assert follow.status_code == 200


def test_phone_call_finds_the_customer_by_phone_and_joins_the_open_ticket(client, world):
    client.force_login(world.agent)
    client.post(URL, form(phone="+39 333 1234567"))
    client.post(URL, form(kind="phone", name="", phone="+39 333-1234567",
                          subject="", text="Ha chiamato: chiede a che punto è il rimborso."))
    assert Customer.objects.count() == 1
    assert Ticket.objects.count() == 2  # a letter and a call are different channels
    call = Ticket.objects.get(channel__kind="phone")
    assert call.subject == "Ha chiamato: chiede a che punto è il rimborso."
    assert Identity.objects.filter(channel_kind="phone", external_id="+393331234567").exists()


def test_logging_into_an_existing_ticket(client, world, deliver):
    deliver("email", "email_plain.eml")
    ticket = Ticket.objects.get()
    ticket = ticket_services.ticket_transition(ticket=ticket, transition="triage", actor=world.agent)
    ticket = ticket_services.ticket_transition(ticket=ticket, transition="resolve", actor=world.agent)
    client.force_login(world.agent)
    response = client.post(URL, form(kind="certified_email", name="", ticket_reference=ticket.reference,
                                     text="PEC: il cliente ribadisce la richiesta di rimborso."))
    assert response["Location"] == ticket.get_absolute_url()
    ticket.refresh_from_db()
    assert ticket.state == "open" and ticket.messages.count() == 2
    assert ticket.messages.last().channel.kind == "certified_email"


def test_a_ticket_the_agent_cannot_see_is_refused(client, world):
    hidden = world.ticket(team=world.other_team)
    client.force_login(world.agent)
    response = client.post(URL, form(ticket_reference=hidden.reference))
    assert response.status_code == 200 and "that you can see" in response.content.decode()
    assert Message.objects.count() == 0


@pytest.mark.parametrize("overrides, error", [
    ({"name": "", "email": "", "phone": ""}, "Say who wrote or called"),
    ({"text": ""}, "This field is required"),
    ({"email": "not-an-email"}, "valid email"),
    ({"phone": "call me maybe"}, "digits"),
    ({"received_at": "2099-01-01T10:00"}, "in the future"),
    ({"kind": "tweet"}, "Select a valid choice"),
])
def test_invalid_input_is_shown_not_stored(client, world, overrides, error):
    client.force_login(world.agent)
    response = client.post(URL, form(**overrides))
    assert response.status_code == 200 and error in response.content.decode()
    assert Ticket.objects.count() == 0


def test_recently_logged_list(client, world):
    client.force_login(world.agent)
    client.post(URL, form(email="anna.ferri@example.it"))
    page = client.get(URL).content.decode()
    assert Ticket.objects.get().reference in page
