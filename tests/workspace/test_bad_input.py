"""Whatever a browser, a script or a stale tab sends to the workspace: a clear 4xx, nothing stored,
never a 500."""

import pytest

from apps.tickets.models import Note, Ticket, TicketEvent
from apps.workspace import presence
from apps.workspace.models import CannedReply

HTMX = {"HX-Request": "true"}
HUGE = "9" * 30


@pytest.fixture
def ticket(world):
    return world.ticket(state="new")


@pytest.mark.django_db
@pytest.mark.parametrize("version", ["²", "1" * 5000, "-1", "1.0", ""])
def test_presence_poll_survives_any_version_value(world, client, ticket, version):
    client.force_login(world.agent)
    for headers in ({}, HTMX):
        response = client.post(f"/workspace/presence/{ticket.pk}/", {"version": version}, headers=headers)
        assert response.status_code == 200
        assert "changed this ticket" not in response.content.decode()
    assert [p.user_id for p in presence.presence_for_ticket(ticket.pk)] == [world.agent.pk]


@pytest.mark.django_db
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_a_note_the_database_cannot_store_is_refused(world, client, ticket, headers):
    client.force_login(world.agent)
    response = client.post(f"/tickets/{ticket.pk}/notes/", {"body": "card\x00 blocked"}, headers=headers)
    assert response.status_code == 400
    assert "cannot be stored" in response.content.decode()
    assert not Note.objects.filter(ticket=ticket).exists()


@pytest.mark.django_db
def test_without_javascript_a_refused_note_keeps_the_text_and_says_why(world, client, ticket):
    client.force_login(world.agent)
    response = client.post(f"/tickets/{ticket.pk}/notes/", {"body": "x" * 10_001})
    html = response.content.decode()
    assert response.status_code == 400 and "<html" in html
    assert "The note is too long" in html and "x" * 10_001 + "</textarea>" in html
    assert not Note.objects.filter(ticket=ticket).exists()


@pytest.mark.django_db
def test_without_javascript_a_stale_transition_is_a_409_page_and_changes_nothing(world, client, ticket):
    client.force_login(world.agent)
    stale = ticket.version - 1
    events = TicketEvent.objects.filter(ticket=ticket).count()
    response = client.post(f"/tickets/{ticket.pk}/transition/claim/", {"version": stale})
    assert response.status_code == 409
    html = response.content.decode()
    assert 'class="error" role="alert"' in html and 'id="workflow-panel"' in html
    ticket.refresh_from_db()
    assert ticket.assignee is None and TicketEvent.objects.filter(ticket=ticket).count() == events
    broken = client.post(f"/tickets/{ticket.pk}/transition/claim/", {"version": "abc"})
    assert broken.status_code == 400 and "The form was incomplete" in broken.content.decode()
    unknown = client.post(f"/tickets/{ticket.pk}/transition/fly-away/", {"version": ticket.version})
    assert unknown.status_code == 400
    assert Ticket.objects.get(pk=ticket.pk).assignee is None


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_pages_that_only_read_refuse_other_methods(world, client, ticket, method):
    canned = CannedReply.objects.filter(team__isnull=True).first()
    client.force_login(world.lead)
    for url in (
        "/tickets/", f"/tickets/{ticket.pk}/", f"/workspace/tickets/{ticket.pk}/canned/",
        f"/workspace/tickets/{ticket.pk}/canned/{canned.pk}/", "/workspace/canned/",
    ):
        assert getattr(client, method)(url).status_code == 405, url


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_canned_reply_forms_take_only_get_and_post(world, client, method):
    canned = CannedReply.objects.create(name="Hello", language="en", team=world.care, body="Hi")
    client.force_login(world.lead)
    for url in ("/workspace/canned/new/", f"/workspace/canned/{canned.pk}/", f"/workspace/canned/{canned.pk}/delete/"):
        assert getattr(client, method)(url).status_code == 405, url
    assert CannedReply.objects.filter(pk=canned.pk).exists()


@pytest.mark.django_db
def test_ids_too_large_for_the_database_are_not_found(world, client, ticket):
    client.force_login(world.lead)
    for url in (
        f"/tickets/{HUGE}/", f"/tickets/{ticket.pk}/messages/{HUGE}/split/",
        f"/workspace/tickets/{ticket.pk}/canned/{HUGE}/", f"/workspace/canned/{HUGE}/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/workspace/presence/{HUGE}/").status_code == 404
    assert client.get(f"/tickets/{ticket.pk}/merge/", {"into": HUGE}).status_code == 400
    assert client.get("/tickets/", {"team": HUGE, "page": HUGE}).status_code == 400
