"""Canned replies: picked by language and team, filled on insert, managed by leads in the browser."""

import json

import pytest

from apps.core.exceptions import PermissionRefused
from apps.workspace import selectors, services
from apps.workspace.models import CannedReply
from tests.factories import CustomerFactory, IdentityFactory

HTMX = {"HX-Request": "true"}
JSON = {"Accept": "application/json"}


@pytest.fixture
def canned(world):
    def make(name, language, body="Ciao {customer_name}, ref {ticket_ref}. {agent_first_name}", team="care", **kw):
        team = {"care": world.care, "other": world.other_team, None: None}[team]
        return CannedReply.objects.create(name=name, language=language, body=body, team=team, **kw)

    return make


@pytest.mark.django_db
def test_placeholders_are_filled_for_the_ticket_and_the_agent(world, canned):
    reply = canned("Scuse", "it", body="Gentile {customer_name}, pratica {ticket_ref}. {agent_first_name} {unknown}")
    ticket = world.ticket(customer=CustomerFactory(display_name="Giulia Conti"))
    world.agent.first_name = "Maria"
    text = selectors.canned_reply_fill(reply, ticket=ticket, user=world.agent)
    assert text == f"Gentile Giulia Conti, pratica {ticket.reference}. Maria {{unknown}}"


@pytest.mark.django_db
def test_customer_without_a_name_is_greeted_by_handle(world, canned):
    reply = canned("Hi", "en", body="Hi {customer_name}!")
    identity = IdentityFactory(handle="tom_b", customer=CustomerFactory(display_name=""))
    ticket = world.ticket(customer=identity.customer)
    assert selectors.canned_reply_fill(reply, ticket=ticket, user=world.agent) == "Hi @tom_b!"


@pytest.mark.django_db
def test_picker_offers_the_customers_language_for_the_team_searchable_by_name(world, client, canned):
    canned("Scuse per il ritardo", "it")
    canned("Rimborso in corso", "it")
    canned("Condiviso", "it", team=None)
    canned("Excuses", "nl")
    canned("Altro team", "it", team="other")
    canned("Disattivata", "it", is_active=False)
    ticket = world.ticket(language="it")
    client.force_login(world.agent)
    html = client.get(f"/workspace/tickets/{ticket.pk}/canned/", headers=HTMX).content.decode()
    assert html.lstrip().startswith('<div id="canned-results"')
    for shown in ("Scuse per il ritardo", "Rimborso in corso", "Condiviso"):
        assert shown in html
    for hidden in ("Excuses", "Altro team", "Disattivata"):
        assert hidden not in html
    found = client.get(f"/workspace/tickets/{ticket.pk}/canned/", {"q": "rimb"}, headers=HTMX).content.decode()
    assert "Rimborso in corso" in found and "Scuse" not in found
    dutch = client.get(f"/workspace/tickets/{ticket.pk}/canned/", {"lang": "nl"}, headers=HTMX).content.decode()
    assert "Excuses" in dutch and "Scuse" not in dutch
    full = client.get(f"/workspace/tickets/{ticket.pk}/canned/")
    assert full.status_code == 200 and "<html" in full.content.decode()
    assert client.get(f"/workspace/tickets/{ticket.pk}/canned/", {"lang": "xx"}).status_code == 400


@pytest.mark.django_db
def test_reply_language_falls_back_to_customer_then_team(world):
    ticket = world.ticket(language="", customer=CustomerFactory(language="nl"))
    assert selectors.ticket_reply_language(ticket) == "nl"
    ticket = world.ticket(language="", customer=CustomerFactory(language=""))
    assert selectors.ticket_reply_language(ticket) == world.care.default_language


@pytest.mark.django_db
def test_insert_returns_the_filled_text_as_json_and_as_a_page_without_js(world, client, canned):
    reply = canned("Scuse", "it")
    ticket = world.ticket(customer=CustomerFactory(display_name="Giulia"))
    world.agent.first_name = "Maria"
    world.agent.save()
    client.force_login(world.agent)
    data = json.loads(client.get(f"/workspace/tickets/{ticket.pk}/canned/{reply.pk}/", headers=JSON).content)
    assert data == {"id": reply.pk, "name": "Scuse", "language": "it",
                    "body": f"Ciao Giulia, ref {ticket.reference}. Maria"}
    page = client.get(f"/workspace/tickets/{ticket.pk}/canned/{reply.pk}/").content.decode()
    assert f"Ciao Giulia, ref {ticket.reference}. Maria" in page
    other = canned("Altro", "it", team="other")
    assert client.get(f"/workspace/tickets/{ticket.pk}/canned/{other.pk}/", headers=JSON).status_code == 404
    assert client.get(f"/workspace/tickets/{ticket.pk}/canned/999999/").status_code == 404
    client.force_login(world.outsider)
    assert client.get(f"/workspace/tickets/{ticket.pk}/canned/{reply.pk}/", headers=JSON).status_code == 404


@pytest.mark.django_db
def test_agents_cannot_manage_canned_replies(world, client, canned):
    reply = canned("Scuse", "it")
    client.force_login(world.agent)
    assert client.get("/workspace/canned/").status_code == 403
    assert client.get("/workspace/canned/new/").status_code == 403
    assert client.post(f"/workspace/canned/{reply.pk}/delete/").status_code == 403
    assert CannedReply.objects.filter(pk=reply.pk).exists()
    assert "Canned replies" not in client.get("/tickets/").content.decode().split("<main")[0]


@pytest.mark.django_db
def test_lead_creates_edits_and_deletes_canned_replies_of_their_team(world, client, canned):
    client.force_login(world.lead)
    assert "/workspace/canned/" in client.get("/tickets/").content.decode()
    response = client.post("/workspace/canned/new/", {
        "name": "Rimborso", "language": "it", "team": world.care.pk, "is_active": "on",
        "body": "Ciao {customer_name}, il rimborso per {ticket_ref} è in corso."})
    assert response.status_code == 302
    reply = CannedReply.objects.get(name="Rimborso")
    assert reply.created_by == world.lead and reply.team == world.care
    listing = client.get("/workspace/canned/").content.decode()
    assert "Rimborso" in listing
    response = client.post(f"/workspace/canned/{reply.pk}/", {
        "name": "Rimborso", "language": "it", "team": world.care.pk, "body": "Nuovo testo {ticket_ref}"})
    assert response.status_code == 302
    reply.refresh_from_db()
    assert reply.body == "Nuovo testo {ticket_ref}" and not reply.is_active
    assert client.get(f"/workspace/canned/{reply.pk}/delete/").status_code == 200
    assert client.post(f"/workspace/canned/{reply.pk}/delete/").status_code == 302
    assert not CannedReply.objects.filter(pk=reply.pk).exists()


@pytest.mark.django_db
def test_lead_is_refused_other_teams_and_shared_replies(world, client, canned):
    theirs = canned("Altro", "it", team="other")
    shared = canned("Condiviso", "it", team=None)
    client.force_login(world.lead)
    assert client.get(f"/workspace/canned/{theirs.pk}/").status_code == 403
    assert client.post(f"/workspace/canned/{shared.pk}/delete/").status_code == 403
    listing = client.get("/workspace/canned/").content.decode()
    assert "Condiviso" in listing and "Read only" in listing and "Altro" not in listing
    response = client.post("/workspace/canned/new/", {
        "name": "X", "language": "it", "team": world.other_team.pk, "body": "text"})
    assert response.status_code == 400
    with pytest.raises(PermissionRefused):
        services.canned_reply_save(actor=world.lead, name="X", body="t", language="it", team=None)


@pytest.mark.django_db
def test_form_refuses_unknown_placeholders_and_duplicates(world, client, canned):
    canned("Scuse", "it")
    client.force_login(world.lead)
    response = client.post("/workspace/canned/new/", {
        "name": "Nuovo", "language": "it", "team": world.care.pk, "body": "Ciao {nome}"})
    assert response.status_code == 400 and "Unknown placeholder {nome}" in response.content.decode()
    response = client.post("/workspace/canned/new/", {
        "name": "Scuse", "language": "it", "team": world.care.pk, "body": "Ciao"})
    assert response.status_code == 400
    assert CannedReply.objects.filter(team=world.care).count() == 1


@pytest.mark.django_db
def test_every_team_gets_the_shipped_replies_in_three_languages(world):
    for language in ("it", "nl", "en"):
        shipped = selectors.canned_replies_for_ticket(world.ticket(language=language))
        assert len(shipped) == 4 and all(c.team_id is None for c in shipped)


@pytest.mark.django_db
def test_admin_manages_shared_replies(world, client):
    client.force_login(world.admin)
    response = client.post("/workspace/canned/new/", {
        "name": "Welcome", "language": "en", "team": "", "body": "Hi {customer_name}", "is_active": "on"})
    assert response.status_code == 302
    assert CannedReply.objects.get(name="Welcome").team is None
