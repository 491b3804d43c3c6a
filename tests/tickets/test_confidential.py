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


# --- notifications ----------------------------------------------------------------------------

@pytest.mark.django_db
def test_notification_create_skips_a_recipient_who_cannot_see_the_ticket(world, hr_ticket):
    from apps.notifications.services import notification_create

    assert notification_create(user=world.agent, ticket=hr_ticket, kind="x", title=hr_ticket.reference) is None
    assert notification_create(user=world.hr_user, ticket=hr_ticket, kind="x", title=hr_ticket.reference)
    assert notification_create(user=world.agent, kind="x", title="No ticket involved")


@pytest.mark.django_db
def test_return_to_care_does_not_notify_a_care_assignee_who_cannot_see_it(world, hr_ticket):
    """The audit's case: CT-000027 "came back to care with guidance", told to a care agent."""
    from apps.notifications.models import Notification
    from apps.tickets import services

    Ticket = type(hr_ticket)
    Ticket.objects.filter(pk=hr_ticket.pk).update(assignee=world.agent2)  # assigned before the fix
    hr_ticket.refresh_from_db()
    services.ticket_transition(
        ticket=hr_ticket, transition="return_to_care", actor=world.hr_user, reason="Offer an apology"
    )
    assert not Notification.objects.filter(ticket=hr_ticket).exclude(user=world.hr_user).exists()


@pytest.mark.django_db
def test_escalating_into_hr_clears_the_care_assignee_and_tells_only_hr(world):
    from apps.notifications.models import Notification
    from apps.tickets import services
    from apps.tickets.models import TicketEvent

    ticket = world.ticket(state="open", assignee=world.agent2)
    services.ticket_transition(
        ticket=ticket, transition="escalate", actor=world.agent, department=world.hr, reason="Employee conduct"
    )
    ticket.refresh_from_db()
    assert ticket.confidential and ticket.assignee is None
    event = TicketEvent.objects.get(ticket=ticket, transition="escalate")
    assert event.data["previous_assignee"] == str(world.agent2) and event.data["assignee"] == ""
    assert set(Notification.objects.filter(ticket=ticket).values_list("user__username", flat=True)) == {"hr"}


@pytest.mark.django_db
def test_notices_about_tickets_out_of_sight_are_neither_listed_nor_counted(world, hr_ticket, client):
    """Notices stored before the fix (or before the ticket became confidential) stay hidden."""
    from apps.notifications.models import Notification

    ordinary = world.ticket(state="open")
    Notification.objects.create(user=world.agent2, ticket=hr_ticket, kind="returned",
                                title=f"{hr_ticket.reference} came back to care with guidance")
    Notification.objects.create(user=world.agent2, ticket=ordinary, kind="assigned",
                                title=f"{ordinary.reference} was assigned to you")
    Notification.objects.create(user=world.agent2, kind="digest", title="Weekly digest")
    client.force_login(world.agent2)
    page = client.get("/notifications/")
    html = page.content.decode()
    assert hr_ticket.reference not in html
    assert ordinary.reference in html and "Weekly digest" in html
    assert page.context["unread_notifications"] == 2
    client.force_login(world.hr_user)
    Notification.objects.filter(ticket=hr_ticket).update(user=world.hr_user)
    page = client.get("/notifications/")
    assert hr_ticket.reference in page.content.decode() and page.context["unread_notifications"] == 1


# --- the workflow never strands a confidential ticket -------------------------------------------

@pytest.mark.django_db
def test_confidential_ticket_cannot_be_escalated_to_a_department_that_cannot_see_it(world, client):
    from apps.core.exceptions import ApplicationError
    from apps.tickets import services

    ticket = world.ticket(state="open", confidential=True, subject=SECRET_SUBJECT)
    with pytest.raises(ApplicationError, match="confidential"):
        services.ticket_transition(
            ticket=ticket, transition="escalate", actor=world.hr_user, department=world.legal, reason="Legal view"
        )
    ticket.refresh_from_db()
    assert ticket.state == "open" and ticket.department is None

    client.force_login(world.hr_user)
    page = client.get(f"/tickets/{ticket.pk}/").content.decode()
    options = page.split('id="dept-escalate"', 1)[1].split("</select>", 1)[0]
    assert f'<option value="{world.hr.pk}">' in options and f'<option value="{world.legal.pk}">' not in options
    client.post(f"/tickets/{ticket.pk}/transition/escalate/",
                {"version": ticket.version, "department": world.legal.pk, "reason": "Legal view"})
    ticket.refresh_from_db()
    assert ticket.state == "open"
    services.ticket_transition(
        ticket=ticket, transition="escalate", actor=world.hr_user, department=world.hr, reason="Back to HR"
    )


@pytest.mark.django_db
def test_confidential_ticket_is_only_transferred_to_confidential_departments(world):
    from apps.core.exceptions import ApplicationError
    from apps.tickets import selectors, services
    from tests.factories import DepartmentFactory

    works_council = DepartmentFactory(name="Works council", slug="works-council", kind="hr", confidential=True)
    world.hr.routes.set([world.legal])
    ticket = world.ticket(state="escalated", department=world.hr, confidential=True)
    # Legal is HR's only route, and it may not hold this ticket: no transfer is offered.
    assert "transfer" not in [t.name for t in selectors.ticket_transitions_for_user(ticket, world.hr_user)]

    world.hr.routes.add(works_council)
    assert list(selectors.ticket_transfer_departments(ticket)) == [works_council]
    with pytest.raises(ApplicationError, match="confidential"):
        services.ticket_transition(
            ticket=ticket, transition="transfer", actor=world.hr_user, department=world.legal, reason="x"
        )
    ticket = services.ticket_transition(
        ticket=ticket, transition="transfer", actor=world.hr_user, department=works_council, reason="x"
    )
    assert ticket.department == works_council and ticket.confidential


@pytest.mark.django_db
def test_confidential_ticket_is_only_assigned_to_people_who_see_it(world, client):
    from apps.core.exceptions import ApplicationError
    from apps.tickets import selectors, services
    from tests.factories import UserFactory

    colleague = UserFactory(username="hr2", role="department_member")
    colleague.departments.set([world.hr])
    ticket = world.ticket(state="open", confidential=True)
    with pytest.raises(ApplicationError, match="may not see"):
        services.ticket_transition(ticket=ticket, transition="assign", actor=world.hr_user, assignee=world.agent2)
    assignable = set(selectors.ticket_assignable_users(ticket))
    assert {colleague, world.hr_user, world.admin} <= assignable and world.agent2 not in assignable
    ticket = services.ticket_transition(ticket=ticket, transition="assign", actor=world.hr_user, assignee=colleague)
    assert ticket.assignee == colleague

    client.force_login(world.hr_user)
    page = client.get(f"/tickets/{ticket.pk}/").content.decode()
    options = page.split('name="assignee"', 1)[1].split("</select>", 1)[0]
    assert f'<option value="{colleague.pk}"' in options and f'<option value="{world.agent2.pk}"' not in options


@pytest.mark.django_db
def test_follow_up_of_a_closed_confidential_ticket_is_confidential(world):
    from apps.social.adapters.base import Author, InboundItem
    from apps.social.services import item_ingest
    from apps.tickets.models import Identity

    closed = world.ticket(state="closed", confidential=True, subject=SECRET_SUBJECT)
    Identity.objects.create(customer=closed.customer, channel_kind="x", external_id="2200000000000000999")
    item = InboundItem(
        platform="x", event_key="1790000000000000777", external_id="1790000000000000777", kind="comment",
        text="Any news about my card?", author=Author(external_id="2200000000000000999", handle="giulia_r"),
    )
    outcome = item_ingest(channel=world.channel, item=item, ticket=closed)
    new = outcome.ticket
    assert new.pk != closed.pk and new.linked_from == closed
    assert new.confidential
    assert new not in selectors.ticket_visible_qs(world.agent)
    assert new in selectors.ticket_visible_qs(world.hr_user)
