"""The triage explanation is stored language-neutral at intake (in a worker, in English) and
read on the ticket page in each agent's own language."""

import pytest
from django.utils import translation

from apps.tickets.models import Ticket
from apps.triage.explain import render, render_explanation
from tests.social.test_threading import tweet

pytestmark = pytest.mark.django_db


def why_section(client, user, ticket) -> str:
    client.force_login(user)
    html = client.get(ticket.get_absolute_url()).content.decode()
    start = html.index('class="panel triage-why"')
    return html[start:html.index("</section>", start)]


def as_agent_in(world, language):
    world.agent.language = language
    world.agent.save(update_fields=["language"])
    return world.agent


def test_intake_explanation_reads_in_each_agents_language(deliver, world, client):
    deliver("x", "x_tweet.json")
    ticket = Ticket.objects.get()
    stored = ticket.triage_explanation["language"][0]
    assert stored["msgid"].startswith("Detected %(lang)s") and stored["params"]["lang"] == {"language": "it"}

    italian = why_section(client, as_agent_in(world, "it"), ticket)
    assert "Rilevato Italiano con una confidenza del 100%" in italian
    assert "Nessuna parola chiave di priorità: Normale." in italian
    assert "Team Social Care: il team predefinito del canale." in italian
    assert "indica Richiesta di assistenza (peso 2)" in italian
    assert "Detected" not in italian and "confidence" not in italian

    dutch = why_section(client, as_agent_in(world, "nl"), ticket)
    assert "Italiaans gedetecteerd met 100% zekerheid" in dutch
    assert "Geen prioriteitstrefwoord: Normaal." in dutch
    assert "Team Social Care: het standaardteam van het kanaal." in dutch
    assert "wijst op Ondersteuningsvraag (gewicht 2)" in dutch
    assert "Detected" not in dutch

    english = why_section(client, as_agent_in(world, "en"), ticket)
    assert "Detected Italian with 100% confidence" in english
    assert "No priority keyword: Normal." in english
    assert "points to Support request (weight 2)" in english


def test_raise_and_reach_reasons_translate_with_their_labels_and_numbers(deliver, world, client):
    deliver("x", "x_tweet.json")
    deliver("x", tweet(id_str="1790000000000000185", text="@BancaEsempio domani vado dal mio avvocato"))
    ticket = Ticket.objects.get()
    assert ticket.priority == "urgent"
    assert "Aumentata da Normale a Urgente da un messaggio successivo:" in why_section(
        client, as_agent_in(world, "it"), ticket)
    assert "Verhoogd van Normaal naar Urgent door een later bericht:" in why_section(
        client, as_agent_in(world, "nl"), ticket)

    reach = {"msgid": "The author reaches %(n)s followers (%(t)s or more): at least %(prio)s.",
             "params": {"n": {"number": 120000}, "t": {"number": 10000}, "prio": {"priority": "high"}}}
    with translation.override("en"):
        assert render(reach) == "The author reaches 120,000 followers (10,000 or more): at least High."
    with translation.override("it"):
        assert render(reach) == "L'autore raggiunge 120.000 follower (10.000 o più): almeno Alta."


def test_old_plain_string_explanations_still_render(world, client):
    ticket = world.ticket(state="open", triage_explanation={
        "language": ["Detected Italian with 99% confidence among it, nl, en."],
        "priority": ["No priority keyword: Normal."],
        "suggested_department": {"id": world.legal.pk, "name": world.legal.name},
    })
    italian = why_section(client, as_agent_in(world, "it"), ticket)
    assert "Detected Italian with 99% confidence among it, nl, en." in italian
    assert "No priority keyword: Normal." in italian and world.legal.name in italian
    assert render_explanation(ticket.triage_explanation)["suggested_department"]["name"] == world.legal.name


def test_a_broken_or_unknown_entry_never_breaks_the_page():
    assert render({"msgid": "Rule “%(name)s” (%(why)s): %(gives)s.", "params": {"name": "x"}}).startswith("Rule")
    assert render({"intent": "no_such_intent"}) == "no_such_intent"
    assert render(["a", {"msgid": "confidential"}, 3]) == "aconfidential3"


def test_admin_shows_the_reasons_as_text(deliver, world, client):
    deliver("x", "x_tweet.json")
    ticket = Ticket.objects.get()
    client.force_login(world.admin)
    html = client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    assert "language: Detected Italian with 100% confidence" in html
