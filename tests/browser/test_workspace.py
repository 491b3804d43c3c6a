"""The agent workspace in a real browser: the breach-first queue, canned replies, collisions, Dutch."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.accounts.services import roles_sync
from apps.tickets import services
from apps.tickets.models import Message, Ticket
from apps.workspace.models import CannedReply
from tests.factories import build_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def world():
    # Transactional tests start from the serialized migration data; the role groups are part of
    # it, but sync them anyway so a flush by another test cannot leave us without them.
    roles_sync()
    world = build_world()
    for user, first, last in ((world.agent, "Maria", "Rossi"), (world.agent2, "Joost", "de Vries")):
        user.first_name, user.last_name, user.language = first, last, ""
        user.save()
    return world


def x_ticket(world, *, handle: str, name: str, body: str, ago: timedelta, n: int) -> Ticket:
    """A public post on X, recorded the way ingest records it, so the SLA clocks start for real."""
    at = timezone.now() - ago
    customer, identity = services.customer_for_identity(
        channel_kind="x", external_id=f"9000{n}", handle=handle, display_name=name
    )
    ticket = services.ticket_create(
        channel=world.channel, customer=customer, subject=body[:80], created_at=at, language="it",
        intent="support_request", sentiment="negative", priority="normal",
    )
    services.message_record(
        ticket=ticket, channel=world.channel, direction=Message.Direction.IN, body=body, created_at=at,
        is_public=True, author_identity=identity, external_id=f"tw-{n}",
    )
    ticket.refresh_from_db()
    return ticket


def test_agent_answers_the_ticket_that_breaches_next_with_an_italian_canned_reply(
    world, open_as, live_server, screenshot
):
    calm = x_ticket(world, handle="luca_r", name="Luca Romano", n=1, ago=timedelta(minutes=5),
                    body="Buongiorno, come posso cambiare il mio indirizzo di residenza?")
    late = x_ticket(world, handle="giulia_c", name="Giulia Conti", n=2, ago=timedelta(hours=2),
                    body="Da ieri sera non riesco ad accedere all'app. Potete aiutarmi?")
    assert late.sla_due < timezone.now() < calm.sla_due
    CannedReply.objects.create(
        name="Accesso all'app", language="it", team=world.care,
        body="Ciao {customer_name}, ci scusiamo per l'attesa: stiamo verificando "
             "(rif. {ticket_ref}). {agent_first_name}",
    )
    CannedReply.objects.create(name="Team app access", language="en", team=world.care,
                               body="Hi {customer_name}, sorry for the wait.")

    page = open_as("agent")
    first = page.locator("table.queue tbody tr").first
    expect(first).to_contain_text(late.reference)
    expect(first.locator(".sla")).to_contain_text("overdue")
    expect(first).to_have_class(re.compile(r"\bis-current\b"))
    screenshot(page, "queue-1440")
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    expect(page.locator("#shortcuts")).to_contain_text("Next / previous ticket")
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts")).to_be_hidden()

    page.keyboard.press("j")
    page.keyboard.press("k")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/tickets/{late.pk}/")
    expect(page.locator("h1")).to_contain_text("Da ieri sera")

    page.keyboard.press("c")
    results = page.locator("#canned-results")
    expect(results).to_contain_text("Accesso all'app")
    expect(results).to_contain_text("Passiamo in privato")  # shipped for every team
    expect(results).not_to_contain_text("Team app access")
    page.fill("#canned-q", "accesso")
    expect(results).not_to_contain_text("Passiamo in privato")
    page.locator("a[data-canned-insert]", has_text="Accesso all'app").click()
    reply = page.locator("#reply-body")
    expected = f"Ciao Giulia Conti, ci scusiamo per l'attesa: stiamo verificando (rif. {late.reference}). Maria"
    expect(reply).to_have_value(expected)
    expect(page.locator("#reply-body-counter")).to_contain_text(f"{280 - len(expected)} characters left")
    page.check("input[name=visibility][value=public]")
    screenshot(page, "ticket-1440")

    page.click("#reply-send")
    expect(page.locator("#thread")).to_contain_text("stiamo verificando", timeout=15_000)
    late.refresh_from_db()
    assert late.first_response_at is not None and late.sla_due > timezone.now()
    published = Message.objects.get(ticket=late, direction="out")
    assert published.is_public and published.body == expected

    page.goto(f"{live_server.url}/tickets/?sla=breached")
    expect(page.locator(".queue-summary")).to_contain_text("0 tickets")
    expect(page.locator("table.queue")).not_to_contain_text(late.reference)


def test_second_agent_sees_who_is_viewing_and_who_is_writing(world, open_as, live_server, screenshot):
    ticket = x_ticket(world, handle="anna_b", name="Anna Bianchi", n=3, ago=timedelta(minutes=20),
                      body="La mia carta è stata bloccata all'estero.")
    url = f"{live_server.url}/tickets/{ticket.pk}/"
    joost = open_as("agent2")
    joost.goto(url)
    expect(joost.locator("#presence")).not_to_contain_text("Maria")

    maria = open_as("agent")
    maria.goto(url)
    # Joost's page learns it from its own presence poll, without a reload.
    expect(joost.locator("#presence")).to_contain_text("Maria is viewing", timeout=15_000)

    with maria.expect_response(re.compile(r"/workspace/presence/\d+/$")):
        maria.fill("#reply-body", "Ciao Anna, ")
        maria.type("#reply-body", "la sblocchiamo subito")
    joost.reload()
    expect(joost.locator("#presence")).to_contain_text("Maria is writing a reply")
    screenshot(joost, "ticket-collision-1440")
    joost.goto(f"{live_server.url}/tickets/")
    expect(joost.locator(f'tr[data-id="{ticket.pk}"]')).to_contain_text("Maria")


def test_the_interface_switches_to_dutch_and_remembers_it(world, open_as, live_server, screenshot):
    x_ticket(world, handle="pieter", name="Pieter Jansen", n=4, ago=timedelta(minutes=30),
             body="Mijn hypotheek is twee keer afgeschreven.")
    page = open_as("agent", viewport=(768, 1024))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(".mainnav")).to_contain_text("Queue")
    with page.expect_navigation():
        page.select_option("#lang-select", "nl")
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    expect(page.locator(".mainnav")).to_contain_text("Wachtrij")
    world.agent.refresh_from_db()
    assert world.agent.language == "nl"
    screenshot(page, "queue-768-nl")
    page.goto(f"{live_server.url}/tickets/{Ticket.objects.get().pk}/")
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    screenshot(page, "ticket-768-nl")


def test_everything_works_without_javascript(world, open_as, live_server):
    ticket = x_ticket(world, handle="tom", name="Tom Baker", n=5, ago=timedelta(minutes=10),
                      body="Why was my card charged twice?")
    page = open_as("agent", javascript=False)
    # Filter by state, not by SLA: earlier transactional tests may have flushed the shipped policies.
    page.select_option("#id_state", "new")
    page.click("text=Apply")
    expect(page).to_have_url(re.compile(r"state=new"))
    page.click(f"text={ticket.reference}")
    page.wait_for_url(f"{live_server.url}/tickets/{ticket.pk}/")
    page.click("button[value=claim]")
    expect(page.locator("#ticket-assignee")).to_contain_text("Maria")
    page.fill("#note-body", "@agent2 please double-check the card")
    page.click("text=Add note")
    expect(page.locator("#notes-panel")).to_contain_text("please double-check the card")
    ticket.refresh_from_db()
    assert ticket.assignee == world.agent


def test_keyboard_focus_survives_htmx_swaps(world, open_as, live_server):
    ticket = x_ticket(world, handle="sara_m", name="Sara Moretti", n=6, ago=timedelta(minutes=15),
                      body="Il bonifico non è ancora arrivato.")
    page = open_as("agent")
    row_link = page.locator(f'tr[data-id="{ticket.pk}"] a.ref')
    row_link.focus()
    # The queue refreshes (every 15 s, or when the agent acted): focus stays on the same row.
    with page.expect_response(re.compile(r"/tickets/\?")):
        page.evaluate("htmx.trigger(document.body, 'ticketChanged')")
    expect(row_link).to_be_focused()

    page.goto(f"{live_server.url}/tickets/{ticket.pk}/")
    page.locator("button[value=claim]").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#ticket-assignee")).to_contain_text("Maria")
    # The claim button is gone with the panel it was in: focus lands on the panel, not on <body>.
    expect(page.locator("#wf-title")).to_be_focused()


@pytest.mark.parametrize(("width", "language"), [(1440, "en"), (768, "nl")])
def test_clock_chips_stay_inside_the_side_panel(world, open_as, live_server, width, language):
    world.legal.name = "Complaints and legal affairs office"
    world.legal.save()
    ticket = x_ticket(world, handle="marco_b", name="Marco Bruno", n=7, ago=timedelta(minutes=25),
                      body="Vi ho scritto tre volte e nessuno risponde.")
    services.ticket_transition(ticket=ticket, transition="triage", actor=world.agent)
    services.ticket_transition(ticket=Ticket.objects.get(pk=ticket.pk), transition="escalate",
                               actor=world.agent, department=world.legal, reason="Threatens legal action")
    page = open_as("agent", viewport=(width, 900), accept_language=language)
    page.goto(f"{live_server.url}/tickets/{ticket.pk}/")
    chips = page.locator("#sla-clocks .sla")
    expect(page.locator("#sla-clocks")).to_contain_text("Complaints and legal affairs office")
    panel = page.locator("#workflow-panel").bounding_box()
    for i in range(chips.count()):
        box = chips.nth(i).bounding_box()
        assert box["x"] + box["width"] <= panel["x"] + panel["width"], chips.nth(i).inner_text()
