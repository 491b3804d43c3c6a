"""The queue page: views, filters, search, order, paging, HTMX partials, visibility, query counts."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.workspace import presence
from tests.factories import ChannelFactory, CustomerFactory, IdentityFactory, MessageFactory

HTMX = {"HX-Request": "true"}


def refs(html: str) -> list[str]:
    """Ticket references in the order the rows show them."""
    return re.findall(r'class="ref" href="/tickets/\d+/">(CT-\d+)<', html)


def count_of(html: str, view: str) -> int:
    return int(re.search(rf'id="count-{view}"[^>]*>(\d+)<', html).group(1))


def page(client, **params) -> str:
    response = client.get("/tickets/", params)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


@pytest.mark.django_db
def test_default_view_is_everything_active_i_may_see_next_deadline_first(world, client):
    now = timezone.now()
    later = world.ticket(state="open", sla_due=now + timedelta(hours=3))
    breached = world.ticket(state="open", sla_due=now - timedelta(minutes=12))
    no_clock = world.ticket(state="pending_customer", sla_due=None)
    soon = world.ticket(state="new", sla_due=now + timedelta(minutes=9))
    world.ticket(state="resolved", subject="Already solved")
    world.ticket(state="open", team=world.other_team, subject="Retail only")
    client.force_login(world.agent)
    html = page(client)
    assert refs(html) == [t.reference for t in (breached, soon, later, no_clock)]
    assert "Already solved" not in html and "Retail only" not in html
    assert "overdue 12 min" in html
    assert count_of(html, "all") == 4
    assert 'hx-trigger="every 15s, ticketChanged from:body"' in html


@pytest.mark.django_db
def test_views_mine_and_team_unassigned_with_counts(world, client):
    mine = world.ticket(state="open", assignee=world.agent)
    theirs = world.ticket(state="open", assignee=world.agent2)
    free = world.ticket(state="new")
    client.force_login(world.agent)
    html = page(client, view="mine")
    assert refs(html) == [mine.reference]
    assert (count_of(html, "mine"), count_of(html, "team"), count_of(html, "all")) == (1, 1, 3)
    assert refs(page(client, view="team")) == [free.reference]
    assert set(refs(page(client, view="all"))) == {mine.reference, theirs.reference, free.reference}


@pytest.mark.django_db
def test_department_members_see_their_escalated_unassigned_work(world, client):
    escalated = world.ticket(state="escalated", department=world.legal)
    world.ticket(state="open")
    client.force_login(world.legal_user)
    assert refs(page(client)) == [escalated.reference]
    assert refs(page(client, view="team")) == [escalated.reference]
    assert refs(page(client, view="mine")) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("param", "value", "match", "other"),
    [
        ("priority", "urgent", {"priority": "urgent"}, {"priority": "low"}),
        ("intent", "mis_selling", {"intent": "mis_selling"}, {"intent": "praise"}),
        ("language", "nl", {"language": "nl"}, {"language": "it"}),
        ("sentiment", "negative", {"sentiment": "negative"}, {"sentiment": "positive"}),
        ("state", "pending_customer", {"state": "pending_customer"}, {"state": "open"}),
        ("state", "resolved", {"state": "resolved"}, {"state": "open"}),
    ],
)
def test_each_filter_narrows_the_list(world, client, param, value, match, other):
    wanted = world.ticket(**{"state": "open", **match})
    unwanted = world.ticket(**{"state": "open", **other})
    client.force_login(world.agent)
    html = page(client, **{param: value})
    assert wanted.reference in refs(html)
    assert unwanted.reference not in refs(html)
    assert count_of(html, "all") == 1


@pytest.mark.django_db
def test_channel_team_and_department_filters(world, client):
    mail = ChannelFactory(kind="email", name="Mailbox", slug="mailbox", team=world.care)
    by_mail = world.ticket(channel=mail)
    on_x = world.ticket()
    at_legal = world.ticket(state="escalated", department=world.legal)
    client.force_login(world.lead)
    assert refs(page(client, channel="email")) == [by_mail.reference]
    assert set(refs(page(client, team=world.care.pk))) == {by_mail.reference, on_x.reference, at_legal.reference}
    assert refs(page(client, department=world.legal.pk)) == [at_legal.reference]
    assert refs(page(client, team=world.other_team.pk)) == []


@pytest.mark.django_db
def test_sla_filters_breached_and_breaching_within_15_and_60_minutes(world, client):
    now = timezone.now()
    overdue = world.ticket(sla_due=now - timedelta(minutes=5))
    in_10 = world.ticket(sla_due=now + timedelta(minutes=10))
    in_40 = world.ticket(sla_due=now + timedelta(minutes=40))
    world.ticket(sla_due=now + timedelta(hours=5))
    world.ticket(sla_due=None)
    client.force_login(world.agent)
    assert refs(page(client, sla="breached")) == [overdue.reference]
    assert refs(page(client, sla="15")) == [in_10.reference]
    assert refs(page(client, sla="60")) == [in_10.reference, in_40.reference]


@pytest.mark.django_db
def test_search_over_subject_messages_handle_and_reference(world, client):
    by_subject = world.ticket(subject="Rimborso mai arrivato")
    by_message = world.ticket(subject="Question")
    MessageFactory(ticket=by_message, body="Mijn hypotheek is twee keer afgeschreven")
    identity = IdentityFactory(handle="giulia_conti")
    by_handle = world.ticket(subject="Hello", customer=identity.customer)
    by_ref = world.ticket(subject="Something else")
    world.ticket(subject="Nothing relevant")
    client.force_login(world.agent)
    assert refs(page(client, q="rimborso")) == [by_subject.reference]
    assert refs(page(client, q="hypotheek")) == [by_message.reference]
    assert refs(page(client, q="@giulia_conti")) == [by_handle.reference]
    assert refs(page(client, q=by_ref.reference)) == [by_ref.reference]
    html = page(client, q="nothing matches this")
    assert refs(html) == [] and "No ticket matches these filters." in html


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["agent", "lead", "outsider", "legal_user"])
def test_hr_ticket_invisible_in_list_count_and_search(world, client, role):
    hr = world.ticket(state="escalated", department=world.hr, confidential=True, subject="Shouted at by the manager")
    MessageFactory(ticket=hr, body="the manager shouted")
    client.force_login(getattr(world, role))
    for params in ({}, {"view": "team"}, {"q": "shouted"}, {"state": "any"}):
        html = page(client, **params)
        assert hr.reference not in html and "Shouted at by the manager" not in html
        assert count_of(html, "all") == 0
    # The HR department is not even offered as a filter; asking for it is refused, and leaks nothing.
    response = client.get("/tickets/", {"department": world.hr.pk})
    assert response.status_code == 400 and hr.reference not in response.content.decode()


@pytest.mark.django_db
def test_hr_member_sees_the_confidential_ticket_and_can_filter_by_hr(world, client):
    hr = world.ticket(state="escalated", department=world.hr, confidential=True)
    client.force_login(world.hr_user)
    assert refs(page(client)) == [hr.reference]
    assert refs(page(client, department=world.hr.pk)) == [hr.reference]


@pytest.mark.django_db
def test_rows_show_the_story_at_a_glance(world, client):
    ticket = world.ticket(
        subject="<b>Card blocked</b>", priority="urgent", intent="support_request", sentiment="negative",
        language="en", assignee=world.agent2,
    )
    MessageFactory(ticket=ticket, body="First\nsecond line", created_at=timezone.now() - timedelta(hours=1))
    MessageFactory(ticket=ticket, body="Still blocked!\nPlease call me", created_at=timezone.now())
    client.force_login(world.agent)
    html = page(client)
    assert "&lt;b&gt;Card blocked&lt;/b&gt;" in html and "<b>Card blocked</b>" not in html
    assert "Still blocked! Please call me" in html
    assert "Urgent" in html and "Support request" in html and "Negative" in html
    assert world.agent2.display_name in html
    assert "chan-x" in html


@pytest.mark.django_db
def test_a_formal_complaint_shows_the_regulators_deadline_apart(world, client):
    now = timezone.now()
    complaint = world.ticket(subject="Formal complaint", is_formal_complaint=True,
                             sla_due=now + timedelta(minutes=30, seconds=30),
                             regulatory_due=now + timedelta(days=14, minutes=1))
    world.ticket(subject="Plain question", sla_due=now + timedelta(hours=2))
    client.force_login(world.agent)
    rows = {row.split('data-id="')[1].split('"')[0]: row for row in page(client).split('<tr class="row')[1:]}
    complaint_row = rows[str(complaint.pk)]
    assert "30 min left" in complaint_row.split('class="c-ref"')[0]
    assert 'class="badge badge-complaint"' in complaint_row and "Regulator: 14d 0h left" in complaint_row
    assert sum("Regulator:" in row for row in rows.values()) == 1


@pytest.mark.django_db
def test_what_the_public_wrote_is_printed_as_text_in_every_cell(world, client):
    customer = CustomerFactory(display_name='<img src=x onerror="alert(1)">')
    ticket = world.ticket(subject="Refund \"now\" & <i>today</i>", customer=customer, language="en")
    MessageFactory(ticket=ticket, body="<script>alert('x')</script> my card", created_at=timezone.now())
    client.force_login(world.agent)
    html = page(client)
    assert "<img src=x" not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; my card" in html
    assert "Refund &quot;now&quot; &amp; &lt;i&gt;today&lt;/i&gt;" in html


@pytest.mark.django_db
def test_presence_shows_who_is_on_a_ticket_in_the_queue(world, client):
    ticket = world.ticket()
    world.agent2.first_name = "Joost"
    world.agent2.save()
    presence.presence_mark(ticket_id=ticket.pk, user=world.agent2, writing=True)
    client.force_login(world.agent)
    assert "Joost is writing a reply" in page(client)


@pytest.mark.django_db
def test_htmx_request_renders_only_the_rows_with_fresh_counts(world, client):
    world.ticket(assignee=world.agent)
    world.ticket()
    client.force_login(world.agent)
    response = client.get("/tickets/", {"view": "mine"}, headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="queue-rows"') and "<html" not in body
    assert len(refs(body)) == 1
    assert re.search(r'id="count-all" hx-swap-oob="true">2<', body)
    assert 'hx-get="/tickets/?view=mine&amp;page=1"' in body
    assert "HX-Request" in response["Vary"]
    # The back button asks htmx to restore the page: that is the whole page again.
    restore = client.get("/tickets/", {"view": "mine"}, headers={**HTMX, "HX-History-Restore-Request": "true"})
    assert "<html" in restore.content.decode()


@pytest.mark.django_db
def test_pagination_keeps_the_filters_and_survives_bad_page_numbers(world, client, settings):
    for _ in range(55):
        world.ticket(priority="high")
    client.force_login(world.agent)
    first = page(client, priority="high")
    assert len(refs(first)) == 50 and "Page 1 of 2" in first
    assert 'href="?priority=high&amp;page=2"' in first
    second = page(client, priority="high", page=2)
    assert len(refs(second)) == 5 and not set(refs(first)) & set(refs(second))
    assert len(refs(page(client, priority="high", page="abc"))) == 50
    assert len(refs(page(client, priority="high", page=99))) == 5


@pytest.mark.django_db
def test_bad_filter_values_are_a_clear_400_not_an_error(world, client):
    world.ticket(priority="urgent")
    client.force_login(world.agent)
    response = client.get("/tickets/", {"priority": "extreme", "team": "abc", "sla": "5", "q": "x" * 500})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Some filters were not understood" in html
    assert len(refs(html)) == 1


@pytest.mark.django_db
def test_queue_needs_login(client):
    response = client.get("/tickets/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def _queries_for(client, url, **headers) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, headers=headers).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/tickets/", "/tickets/?q=refund&sla=breached", "/tickets/?view=team&priority=high"])
def test_queue_query_count_is_pinned_and_independent_of_ticket_count(world, client, url, django_assert_max_num_queries):
    client.force_login(world.agent)

    def add(n):
        for i in range(n):
            ticket = world.ticket(priority="high", subject=f"refund {i}", assignee=world.agent2 if i % 2 else None,
                                  sla_due=timezone.now() - timedelta(minutes=i + 1))
            MessageFactory(ticket=ticket, body="refund please")
            presence.presence_mark(ticket_id=ticket.pk, user=world.agent2)

    add(5)
    few, few_partial = _queries_for(client, url), _queries_for(client, url, **HTMX)
    add(45)
    assert _queries_for(client, url) == few
    assert _queries_for(client, url, **HTMX) == few_partial
    # session, user, roles, teams, departments, unread notifications, view counts, rows, the
    # teams and departments to filter by
    with django_assert_max_num_queries(9):
        client.get(url)
