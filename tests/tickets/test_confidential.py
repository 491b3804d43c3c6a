"""HR-confidential tickets never leak to anyone but HR members and admins: lists, counts, search, detail."""

import pytest

from apps.tickets import selectors
from tests.factories import MessageFactory

SECRET_SUBJECT = "Branch manager shouted at me in front of everyone"


@pytest.fixture
def hr_ticket(world):
    ticket = world.ticket(state="escalated", department=world.hr, confidential=True, subject=SECRET_SUBJECT)
    MessageFactory(ticket=ticket, body="The employee at the Via Roma branch insulted me")
    return ticket


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["agent", "lead", "outsider", "compliance_user", "legal_user"])
def test_invisible_to_everyone_outside_hr(world, hr_ticket, client, role):
    user = getattr(world, role)
    visible_before = selectors.ticket_visible_qs(user).count()
    world.ticket(state="open", subject="Ordinary question")  # a ticket the team may see
    assert hr_ticket not in selectors.ticket_visible_qs(user)
    assert selectors.ticket_visible_qs(user).filter(confidential=True).count() == 0
    assert selectors.ticket_visible_qs(user).count() in (visible_before, visible_before + 1)

    client.force_login(user)
    listing = client.get("/tickets/").content.decode()
    assert SECRET_SUBJECT not in listing
    assert hr_ticket.reference not in listing
    for state in ("escalated", ""):
        assert SECRET_SUBJECT not in client.get("/tickets/", {"state": state}).content.decode()
    assert SECRET_SUBJECT not in client.get("/tickets/", {"q": "shouted"}).content.decode()
    assert client.get(f"/tickets/{hr_ticket.pk}/").status_code == 404
    response = client.post(
        f"/tickets/{hr_ticket.pk}/transition/return_to_care/", {"version": hr_ticket.version, "reason": "x"}
    )
    assert response.status_code == 404
    assert client.post(f"/tickets/{hr_ticket.pk}/notes/", {"body": "peek"}).status_code == 404
    hr_ticket.refresh_from_db()
    assert hr_ticket.state == "escalated" and not hr_ticket.notes.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["hr_user", "admin"])
def test_visible_to_hr_and_admins(world, hr_ticket, client, role):
    user = getattr(world, role)
    assert hr_ticket in selectors.ticket_visible_qs(user)
    client.force_login(user)
    assert SECRET_SUBJECT in client.get("/tickets/").content.decode()
    page = client.get(f"/tickets/{hr_ticket.pk}/")
    assert page.status_code == 200
    assert "Return to care" in page.content.decode()


@pytest.mark.django_db
def test_admin_changelist_hides_confidential_from_non_admin_staff(world, hr_ticket, client):
    world.lead.is_staff = True
    world.lead.save()
    from django.contrib.auth.models import Permission

    world.lead.user_permissions.add(Permission.objects.get(codename="view_ticket"))
    client.force_login(world.lead)
    page = client.get("/admin/tickets/ticket/").content.decode()
    assert SECRET_SUBJECT not in page
    assert client.get(f"/admin/tickets/ticket/{hr_ticket.pk}/change/").status_code in (302, 404)


@pytest.mark.django_db
def test_mentioning_someone_who_may_not_see_the_ticket_does_not_notify_them(world, hr_ticket):
    from apps.notifications.models import Notification
    from apps.tickets import services

    services.note_add(ticket=hr_ticket, author=world.hr_user, body="@agent please call the customer")
    assert not Notification.objects.filter(user=world.agent).exists()
