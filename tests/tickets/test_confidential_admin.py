"""The Django admin obeys the confidentiality rule for everything that belongs to a ticket,
and its ticket form changes nothing the workflow should audit."""

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from apps.notifications.models import Notification
from apps.replies.models import Outbox, Reply
from apps.sla.models import Calendar, ClockKind, SlaClock, SlaEvent
from apps.social.models import InboundDelivery, InboundEvent
from apps.tickets import services
from apps.tickets.models import Note, Ticket, TicketEvent
from tests.factories import MessageFactory

SECRET_SUBJECT = "Branch manager shouted at me in front of everyone"

# admin URL prefix -> the view permission a staff member needs for it
ADMIN_PAGES = {
    "tickets/message": "tickets.view_message",
    "tickets/note": "tickets.view_note",
    "tickets/ticketevent": "tickets.view_ticketevent",
    "sla/slaclock": "sla.view_slaclock",
    "sla/slaevent": "sla.view_slaevent",
    "replies/reply": "replies.view_reply",
    "replies/outbox": "replies.view_outbox",
    "notifications/notification": "notifications.view_notification",
    "social/inboundevent": "social.view_inboundevent",
    "social/inbounddelivery": "social.view_inbounddelivery",
}
# The management forms of the ticket page's inlines (messages, audit), as a browser posts them.
INLINE_FORMS = {f"{prefix}-{name}": 0 for prefix in ("messages", "events") for name in ("TOTAL_FORMS", "INITIAL_FORMS")}


def _rows_of(ticket: Ticket, world) -> dict[str, int]:
    """One row of every ticket-owned model shown in the admin, keyed like ADMIN_PAGES."""
    now = timezone.now()
    message = MessageFactory(ticket=ticket, body=f"Message of {ticket.subject}")
    clock = SlaClock.objects.create(
        ticket=ticket, kind=ClockKind.RESOLUTION, started_at=now,
        calendar=Calendar.objects.get_or_create(name="Admin test calendar")[0],
    )
    reply = Reply.objects.create(
        ticket=ticket, author=world.admin, body="We are looking into it.", channel=ticket.channel,
        delivery="public_reply",
    )
    delivery = InboundDelivery.objects.create(channel=ticket.channel, source="x", body=b"{}")
    return {
        "tickets/message": message.pk,
        "tickets/note": Note.objects.create(ticket=ticket, author=world.admin, body="internal").pk,
        "tickets/ticketevent": services.ticket_event_record(
            ticket=ticket, kind=TicketEvent.Kind.NOTE, actor=world.admin
        ).pk,
        "sla/slaclock": clock.pk,
        "sla/slaevent": SlaEvent.objects.create(ticket=ticket, clock=clock, kind="start", at=now).pk,
        "replies/reply": reply.pk,
        "replies/outbox": Outbox.objects.create(reply=reply).pk,
        "notifications/notification": Notification.objects.create(
            user=world.admin, ticket=ticket, kind="test", title=f"About {ticket.reference}"
        ).pk,
        "social/inboundevent": InboundEvent.objects.create(
            channel=ticket.channel, delivery=delivery, event_key=f"admin-test-{ticket.pk}",
            ticket=ticket, message=message,
        ).pk,
        "social/inbounddelivery": delivery.pk,
    }


@pytest.fixture
def rows(world):
    secret = world.ticket(state="escalated", department=world.hr, confidential=True, subject=SECRET_SUBJECT)
    ordinary = world.ticket(state="open", subject="Card blocked")
    return {"secret": _rows_of(secret, world), "ordinary": _rows_of(ordinary, world)}


def _staff(user):
    user.is_staff = True
    user.save()
    for perm in ADMIN_PAGES.values():
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


@pytest.mark.django_db
@pytest.mark.parametrize("page", list(ADMIN_PAGES))
def test_staff_outside_hr_sees_no_row_of_a_confidential_ticket(world, rows, client, page):
    client.force_login(_staff(world.lead))
    listing = client.get(f"/admin/{page}/")
    assert listing.status_code == 200
    html = listing.content.decode()
    assert f"/admin/{page}/{rows['ordinary'][page]}/change/" in html
    assert f"/admin/{page}/{rows['secret'][page]}/change/" not in html
    assert SECRET_SUBJECT not in html
    # Django's admin answers a row outside get_queryset with a redirect, as if it did not exist.
    assert client.get(f"/admin/{page}/{rows['secret'][page]}/change/").status_code in (302, 404)
    assert client.get(f"/admin/{page}/{rows['secret'][page]}/history/").status_code in (302, 404)


@pytest.mark.django_db
@pytest.mark.parametrize("page", list(ADMIN_PAGES))
@pytest.mark.parametrize("role", ["hr_user", "admin"])
def test_hr_staff_and_admins_see_the_confidential_rows(world, rows, client, page, role):
    client.force_login(_staff(getattr(world, role)))
    html = client.get(f"/admin/{page}/").content.decode()
    assert f"/admin/{page}/{rows['secret'][page]}/change/" in html
    assert client.get(f"/admin/{page}/{rows['secret'][page]}/change/").status_code == 200


@pytest.mark.django_db
def test_admin_ticket_form_cannot_change_what_the_workflow_audits(world, client):
    ticket = world.ticket(state="open", subject="Card blocked")
    events_before = TicketEvent.objects.filter(ticket=ticket).count()
    client.force_login(world.admin)
    page = client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    for field in ("confidential", "department", "assignee", "team", "state", "subject", "priority"):
        assert f'name="{field}"' not in page
    response = client.post(f"/admin/tickets/ticket/{ticket.pk}/change/", {
        "confidential": "on", "department": world.hr.pk, "assignee": world.agent2.pk,
        "team": world.other_team.pk, "subject": "Changed behind the audit's back", "priority": "urgent",
        "_save": "Save", **INLINE_FORMS,
    })
    assert response.status_code == 302  # accepted, and ignored
    ticket.refresh_from_db()
    assert not ticket.confidential and ticket.department is None and ticket.assignee is None
    assert ticket.team == world.care and ticket.subject == "Card blocked" and ticket.priority == "normal"
    assert ticket.version == 1
    assert TicketEvent.objects.filter(ticket=ticket).count() == events_before


@pytest.mark.django_db
def test_admin_cannot_add_a_ticket_past_the_audit(world, client):
    client.force_login(world.admin)
    assert client.get("/admin/tickets/ticket/add/").status_code == 403
    assert 'href="/admin/tickets/ticket/add/"' not in client.get("/admin/tickets/ticket/").content.decode()


@pytest.mark.django_db
def test_admin_transition_button_still_works_on_the_read_only_form(world, client):
    ticket = world.ticket(state="open")
    client.force_login(world.admin)
    response = client.post(
        f"/admin/tickets/ticket/{ticket.pk}/change/", {"_fsm_transition_to": "wait_for_customer", **INLINE_FORMS}
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.state == "pending_customer" and ticket.version == 2
    assert TicketEvent.objects.filter(ticket=ticket, transition="wait_for_customer", actor=world.admin).exists()
