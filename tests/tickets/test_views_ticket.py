"""The ticket page and its actions: thread, side panel, partials, transitions, notes, merge, split."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.tickets import services
from apps.tickets.models import Message, Ticket, TicketEvent
from apps.workspace import presence
from tests.factories import ChannelFactory, IdentityFactory, MessageFactory

HTMX = {"HX-Request": "true"}


def body_of(response) -> str:
    return response.content.decode()


@pytest.mark.django_db
def test_thread_across_channels_in_time_order_with_post_and_customer_history(world, client):
    x_identity = IdentityFactory(channel_kind="x", handle="giulia")
    customer = x_identity.customer
    mail_identity = IdentityFactory(customer=customer, channel_kind="email", external_id="g@example.com",
                                    handle="g@example.com")
    mail = ChannelFactory(kind="email", name="Care mailbox", slug="care-mail", team=world.care)
    earlier = world.ticket(state="resolved", customer=customer, channel=mail, subject="Old card question",
                           created_at=timezone.now() - timedelta(days=40))
    MessageFactory(ticket=earlier, channel=mail, body="My card is old", author_identity=mail_identity)
    world.ticket(state="open", team=world.other_team, customer=customer, subject="Retail matter")
    ticket = world.ticket(customer=customer, context={
        "text": "Our new #campaign is live", "url": "https://x.example/status/1", "sponsored": True,
        "author": "@Bank"})
    t0 = timezone.now() - timedelta(hours=3)
    MessageFactory(ticket=ticket, body="Third, by e-mail", channel=mail, author_identity=mail_identity,
                   created_at=t0 + timedelta(hours=2))
    MessageFactory(ticket=ticket, body="First, in public", author_identity=x_identity, created_at=t0)
    MessageFactory(ticket=ticket, body="Second, our answer", direction="out", author_user=world.agent,
                   created_at=t0 + timedelta(hours=1))
    client.force_login(world.agent)
    html = body_of(client.get(f"/tickets/{ticket.pk}/"))
    assert html.index("First, in public") < html.index("Second, our answer") < html.index("Third, by e-mail")
    assert "Written under a sponsored post" in html and "Our new #campaign is live" in html
    assert 'href="https://x.example/status/1" rel="nofollow"' in html
    assert earlier.reference in html and "Old card question" in html and "My card is old" in html
    assert "Retail matter" not in html  # another team's ticket of the same customer stays hidden
    assert "@giulia" in html and "g@example.com" in html


@pytest.mark.django_db
def test_untrusted_text_is_escaped_links_are_not_followed_and_no_images_load(world, client):
    ticket = world.ticket()
    MessageFactory(ticket=ticket, body='<img src="https://evil.example/p.png"> see https://evil.example/x?a=1&b=2 '
                                       '"><script>alert(1)</script>')
    client.force_login(world.agent)
    response = client.get(f"/tickets/{ticket.pk}/")
    html = body_of(response)
    assert "<img src=\"https://evil.example" not in html and "&lt;img" in html
    assert "<script>alert(1)</script>" not in html
    assert re.search(r'<a href="https://evil.example/x\?a=1&amp;b=2" rel="nofollow" target="_blank" '
                     r'referrerpolicy="no-referrer">', html)
    hostile = world.ticket(context={"text": "post", "url": "javascript:alert(1)"})
    assert "javascript:alert" not in body_of(client.get(f"/tickets/{hostile.pk}/"))
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "img-src 'self' data:" in csp


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/tickets/", "/tickets/{pk}/", "/workspace/canned/"])
def test_pages_need_no_inline_script_or_style(world, client, url):
    ticket = world.ticket()
    MessageFactory(ticket=ticket)
    client.force_login(world.lead)
    html = body_of(client.get(url.format(pk=ticket.pk)))
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", html)
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)


@pytest.mark.django_db
def test_outsider_and_non_hr_users_get_404(world, client):
    ticket = world.ticket()
    hr = world.ticket(state="escalated", department=world.hr, confidential=True)
    client.force_login(world.outsider)
    for url in (f"/tickets/{ticket.pk}/", f"/tickets/{ticket.pk}/merge/",
                f"/workspace/tickets/{ticket.pk}/canned/"):
        assert client.get(url).status_code == 404
    assert client.post(f"/workspace/presence/{ticket.pk}/").status_code == 404
    client.force_login(world.agent)
    assert client.get(f"/tickets/{hr.pk}/").status_code == 404
    assert client.get(f"/tickets/{hr.pk}/", headers={**HTMX, "HX-Target": "workflow-panel"}).status_code == 404


@pytest.mark.django_db
def test_side_panel_offers_exactly_the_transitions_of_the_workflow(world, client):
    ticket = world.ticket(state="open", assignee=world.agent2)
    client.force_login(world.agent)
    html = body_of(client.get(f"/tickets/{ticket.pk}/"))
    offered = set(re.findall(r'name="transition" value="([a-z_]+)"', html))
    assert offered == {"take_over", "wait_for_customer", "escalate", "resolve"}
    assert "owns this ticket" in html
    client.force_login(world.legal_user)
    assert client.get(f"/tickets/{ticket.pk}/").status_code == 404


@pytest.mark.django_db
def test_claim_then_colleague_must_take_over_explicitly_and_it_is_audited(world, client):
    ticket = world.ticket(state="open")
    client.force_login(world.agent)
    response = client.post(f"/tickets/{ticket.pk}/transition/claim/", {"version": ticket.version}, headers=HTMX)
    assert response.status_code == 200 and response["HX-Trigger"] == "ticketChanged"
    assert 'id="head-state" hx-swap-oob="true"' in body_of(response)
    ticket.refresh_from_db()
    assert ticket.assignee == world.agent

    client.force_login(world.agent2)
    html = body_of(client.get(f"/tickets/{ticket.pk}/"))
    assert 'value="claim"' not in html and 'value="take_over"' in html
    refused = client.post(f"/tickets/{ticket.pk}/transition/claim/", {"version": ticket.version}, headers=HTMX)
    assert refused.status_code == 400 and "not possible" in body_of(refused)
    taken = client.post(f"/tickets/{ticket.pk}/transition/take_over/",
                        {"version": ticket.version, "reason": "Maria is off sick"})
    assert taken.status_code == 302
    ticket.refresh_from_db()
    assert ticket.assignee == world.agent2
    event = TicketEvent.objects.filter(ticket=ticket, transition="take_over").get()
    assert event.actor == world.agent2 and event.reason == "Maria is off sick"
    assert world.agent.notifications.get(kind="taken_over").body == "Maria is off sick"


@pytest.mark.django_db
def test_the_owner_hint_appears_only_where_taking_over_is_possible(world, client):
    hint = "owns this ticket. Take it over only after talking to them"
    open_ticket = world.ticket(state="open", assignee=world.agent)
    escalated = world.ticket(state="escalated", department=world.legal, assignee=world.agent)
    client.force_login(world.agent2)
    assert hint in body_of(client.get(f"/tickets/{open_ticket.pk}/"))
    html = body_of(client.get(f"/tickets/{escalated.pk}/"))
    assert 'value="take_over"' not in html and hint not in html
    client.force_login(world.agent)
    assert hint not in body_of(client.get(f"/tickets/{open_ticket.pk}/"))


@pytest.mark.django_db
def test_lead_assigns_through_the_panel(world, client):
    ticket = world.ticket(state="open")
    client.force_login(world.lead)
    response = client.post(f"/tickets/{ticket.pk}/transition/assign/",
                           {"version": ticket.version, "assignee": world.agent2.pk}, headers=HTMX)
    assert response.status_code == 200
    ticket.refresh_from_db()
    assert ticket.assignee == world.agent2


@pytest.mark.django_db
def test_escalating_to_hr_takes_the_ticket_out_of_sight_and_says_so(world, client):
    ticket = world.ticket(state="open")
    client.force_login(world.agent)
    response = client.post(f"/tickets/{ticket.pk}/transition/escalate/",
                           {"version": ticket.version, "department": world.hr.pk, "reason": "About an employee"},
                           headers=HTMX)
    assert response.status_code == 204 and response["HX-Redirect"] == "/tickets/"
    assert "no longer visible" in body_of(client.get("/tickets/"))
    plain = world.ticket(state="open")
    response = client.post(f"/tickets/{plain.pk}/transition/escalate/",
                           {"version": plain.version, "department": world.hr.pk, "reason": "Employee"})
    assert response.status_code == 302 and response["Location"] == "/tickets/"


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["workflow-panel", "notes-panel", "thread"])
def test_each_panel_refreshes_alone(world, client, target):
    ticket = world.ticket()
    MessageFactory(ticket=ticket, body="Hello there")
    client.force_login(world.agent)
    html = body_of(client.get(f"/tickets/{ticket.pk}/", headers={**HTMX, "HX-Target": target}))
    assert re.match(rf'\s*<(div|section) id="{target}"', html)
    assert "<html" not in html


@pytest.mark.django_db
def test_note_with_mention_over_htmx_and_without(world, client):
    ticket = world.ticket()
    client.force_login(world.agent)
    response = client.post(f"/tickets/{ticket.pk}/notes/", {"body": "@agent2 customer called twice"}, headers=HTMX)
    html = body_of(response)
    assert response.status_code == 200 and response["HX-Trigger"] == "notesChanged"
    assert html.lstrip().startswith('<section id="notes-panel"')
    assert '<span class="mention">@agent2</span> customer called twice' in html
    assert world.agent2.notifications.filter(kind="mention").exists()
    empty = client.post(f"/tickets/{ticket.pk}/notes/", {"body": "   "}, headers=HTMX)
    assert empty.status_code == 400 and "The note is empty." in body_of(empty)
    plain = client.post(f"/tickets/{ticket.pk}/notes/", {"body": "plain note"})
    assert plain.status_code == 302 and plain["Location"].endswith("#notes-panel")
    assert client.get(f"/tickets/{ticket.pk}/notes/").status_code == 405


@pytest.mark.django_db
def test_collision_warning_viewing_and_writing(world, client):
    ticket = world.ticket()
    world.agent.first_name = "Maria"
    world.agent.save()
    client.force_login(world.agent)
    client.get(f"/tickets/{ticket.pk}/")  # Maria opens the ticket: she is viewing it

    client.force_login(world.agent2)
    html = body_of(client.get(f"/tickets/{ticket.pk}/"))
    assert "Maria is viewing" in html

    client.force_login(world.agent)
    poll = client.post(f"/workspace/presence/{ticket.pk}/", {"writing": "1", "version": ticket.version}, headers=HTMX)
    assert poll.status_code == 200
    client.force_login(world.agent2)
    poll = client.post(f"/workspace/presence/{ticket.pk}/", {"version": ticket.version}, headers=HTMX)
    assert "Maria is writing a reply" in body_of(poll)
    assert body_of(poll).lstrip().startswith('<div id="presence"')
    assert client.get(f"/workspace/presence/{ticket.pk}/").status_code == 405


@pytest.mark.django_db
def test_presence_poll_warns_when_someone_else_changed_the_ticket(world, client):
    ticket = world.ticket()
    seen = ticket.version
    services.ticket_transition(ticket=ticket, transition="claim", actor=world.agent2)
    client.force_login(world.agent)
    html = body_of(client.post(f"/workspace/presence/{ticket.pk}/", {"version": seen}, headers=HTMX))
    assert f"{world.agent2.display_name} changed this ticket since you opened it." in html
    assert f'href="/tickets/{ticket.pk}/">Reload' in html


@pytest.mark.django_db
def test_leaving_removes_the_presence_at_once(world, client):
    ticket = world.ticket()
    client.force_login(world.agent)
    client.get(f"/tickets/{ticket.pk}/")
    assert presence.presence_for_ticket(ticket.pk)
    assert client.post(f"/workspace/presence/{ticket.pk}/leave/").status_code == 200
    assert presence.presence_for_ticket(ticket.pk) == []


@pytest.mark.django_db
def test_dates_are_shown_in_the_users_time_zone(world, client):
    ticket = world.ticket(created_at=datetime(2024, 1, 15, 12, 0, tzinfo=UTC))
    MessageFactory(ticket=ticket, body="hi", created_at=datetime(2024, 1, 15, 12, 0, tzinfo=UTC))
    world.agent.timezone = "America/New_York"
    world.agent.save()
    client.force_login(world.agent)
    html = body_of(client.get(f"/tickets/{ticket.pk}/"))
    assert 'datetime="2024-01-15T07:00:00-05:00"' in html and "15 Jan 2024" in html
    world.agent.timezone = "Europe/Amsterdam"
    world.agent.save()
    assert 'datetime="2024-01-15T13:00:00+01:00"' in body_of(client.get(f"/tickets/{ticket.pk}/"))


def _ticket_page_queries(client, ticket) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(f"/tickets/{ticket.pk}/").status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.django_db
def test_ticket_page_query_count_does_not_grow_with_the_story(world, client):
    identity = IdentityFactory()
    ticket = world.ticket(customer=identity.customer)
    client.force_login(world.agent)

    def grow(n):
        for i in range(n):
            MessageFactory(ticket=ticket, author_identity=identity, body=f"message {i}")
            services.note_add(ticket=ticket, author=world.agent2, body=f"@agent note {i}")
            other = world.ticket(state="resolved", customer=identity.customer)
            MessageFactory(ticket=other, body="old story")

    grow(5)
    few = _ticket_page_queries(client, ticket)
    grow(45)
    assert _ticket_page_queries(client, ticket) == few
    # The page, its side panel, the customer's history and the reply composer: bounded.
    assert few <= 30


# --- merge ---------------------------------------------------------------------------------


@pytest.fixture
def pair(world):
    identity = IdentityFactory()
    target = world.ticket(state="open", customer=identity.customer, subject="Refund still missing")
    source = world.ticket(state="new", customer=identity.customer, subject="Where is my refund?")
    MessageFactory(ticket=target, body="first complaint", created_at=timezone.now() - timedelta(days=2))
    MessageFactory(ticket=source, body="second complaint")
    services.note_add(ticket=source, author=world.agent, body="called the branch")
    return source, target


@pytest.mark.django_db
def test_merge_review_then_merge(world, client, pair):
    source, target = pair
    client.force_login(world.agent)
    assert f'<option value="{target.pk}"' in body_of(client.get(f"/tickets/{source.pk}/"))
    review = client.get(f"/tickets/{source.pk}/merge/", {"into": target.pk})
    assert review.status_code == 200 and "This cannot be undone" in body_of(review)
    response = client.post(f"/tickets/{source.pk}/merge/", {
        "into": target.pk, "version": source.version, "target_version": target.version, "reason": "Same refund"})
    assert response.status_code == 302 and response["Location"] == f"/tickets/{target.pk}/"
    source.refresh_from_db()
    target.refresh_from_db()
    assert source.state == "closed" and source.merged_into == target
    assert set(Message.objects.filter(ticket=target).values_list("body", flat=True)) == {
        "first complaint", "second complaint"}
    assert target.notes.filter(body="called the branch").exists()
    assert TicketEvent.objects.filter(ticket=target, kind="merge", data__merged_from=source.reference).exists()
    assert list(TicketEvent.objects.filter(ticket=source, kind="transition").values_list("transition", flat=True)) \
        == ["triage", "resolve", "close"]
    page = body_of(client.get(f"/tickets/{source.pk}/"))
    assert f"This ticket was merged into {target.reference}" in page


@pytest.mark.django_db
def test_merge_refusals(world, client, pair):
    source, target = pair
    stranger = world.ticket(state="open")
    client.force_login(world.agent)
    wrong = client.post(f"/tickets/{source.pk}/merge/", {"into": stranger.pk})
    assert wrong.status_code == 400 and "Choose one of this customer" in body_of(wrong)
    assert client.post(f"/tickets/{source.pk}/merge/", {"into": "x"}).status_code == 400
    stale = client.post(f"/tickets/{source.pk}/merge/", {
        "into": target.pk, "version": source.version - 1, "target_version": target.version})
    assert stale.status_code == 409 and "changed by someone else" in body_of(stale)
    client.force_login(world.outsider)
    assert client.post(f"/tickets/{source.pk}/merge/", {"into": target.pk}).status_code == 404
    client.force_login(world.legal_user)
    assert client.post(f"/tickets/{source.pk}/merge/", {"into": target.pk}).status_code == 404
    source.refresh_from_db()
    assert source.state == "new" and source.merged_into is None


# --- split ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_split_a_message_off_into_a_new_ticket(world, client):
    first = IdentityFactory(handle="anna")
    other = IdentityFactory(handle="bruno")
    ticket = world.ticket(state="open", customer=first.customer, language="it", priority="high")
    MessageFactory(ticket=ticket, body="My card is blocked", author_identity=first)
    stray = MessageFactory(ticket=ticket, body="Also: my mortgage rate doubled!\nPlease explain", author_identity=other)
    client.force_login(world.agent)
    html = body_of(client.get(f"/tickets/{ticket.pk}/"))
    assert f"/tickets/{ticket.pk}/messages/{stray.pk}/split/" in html
    confirm = client.get(f"/tickets/{ticket.pk}/messages/{stray.pk}/split/")
    assert 'value="Also: my mortgage rate doubled!"' in body_of(confirm)
    response = client.post(f"/tickets/{ticket.pk}/messages/{stray.pk}/split/",
                           {"subject": "Mortgage rate", "reason": "Different person, different matter"})
    new = Ticket.objects.exclude(pk=ticket.pk).get()
    assert response.status_code == 302 and response["Location"] == f"/tickets/{new.pk}/"
    stray.refresh_from_db()
    assert stray.ticket == new and new.linked_from == ticket and new.customer == other.customer
    assert (new.subject, new.language, new.priority, new.state) == ("Mortgage rate", "it", "high", "new")
    assert TicketEvent.objects.filter(ticket=ticket, data__to=new.reference).exists()
    assert TicketEvent.objects.filter(ticket=new, data__from=ticket.reference).exists()


@pytest.mark.django_db
def test_split_refusals(world, client):
    ticket = world.ticket(state="open")
    only = MessageFactory(ticket=ticket, body="only one")
    elsewhere = MessageFactory(ticket=world.ticket(), body="elsewhere")
    client.force_login(world.agent)
    response = client.post(f"/tickets/{ticket.pk}/messages/{only.pk}/split/", {})
    assert response.status_code == 400 and "only message" in body_of(response)
    ours = MessageFactory(ticket=ticket, direction="out", author_user=world.agent, body="our answer")
    response = client.post(f"/tickets/{ticket.pk}/messages/{ours.pk}/split/", {})
    assert response.status_code == 400 and "Only a customer" in body_of(response)
    assert client.get(f"/tickets/{ticket.pk}/messages/{elsewhere.pk}/split/").status_code == 404
    client.force_login(world.outsider)
    assert client.post(f"/tickets/{ticket.pk}/messages/{only.pk}/split/", {}).status_code == 404
    assert Ticket.objects.count() == 2
