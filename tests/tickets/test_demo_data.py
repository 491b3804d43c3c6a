"""`manage.py demo_data`: the demo a new user meets after `make run`.

The demo is loaded once for the module (it goes through every service and hook, so it is the
slow part) inside a transaction that is rolled back at the end; each test runs in its own
savepoint on top of it.
"""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from apps.tickets import selectors
from apps.tickets.demo import DEMO_PASSWORD, USERS, WAVE_TAG, demo_counts, demo_data_load
from apps.tickets.models import Ticket, TicketEvent, TicketState


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        result = demo_data_load()
        yield result
        transaction.set_rollback(True)


def demo_ticket(key: str) -> Ticket:
    return Ticket.objects.get(context__demo_key=key)


def user(username: str):
    return get_user_model().objects.get(username=username)


@pytest.mark.django_db
def test_running_it_again_creates_nothing(demo):
    assert demo.created >= 60
    before = demo_counts()
    out = StringIO()
    call_command("demo_data", stdout=out)
    assert demo_counts() == before
    assert "already loaded" in out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize("username", [spec.username for spec in USERS])
def test_every_demo_user_signs_in_and_sees_tickets(demo, client, username):
    response = client.post("/accounts/login/", {"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 302, f"{username} could not sign in"
    page = client.get("/tickets/")
    assert page.status_code == 200
    references = [t.reference for t in selectors.ticket_visible_qs(user(username))]
    assert references
    assert any(ref in page.content.decode() for ref in references)


@pytest.mark.django_db
def test_tickets_span_every_state_three_languages_and_realistic_ages(demo):
    tickets = Ticket.objects.filter(context__has_key="demo_key")
    assert tickets.count() >= 60
    assert set(tickets.values_list("state", flat=True)) == set(TicketState.values)
    assert {"it", "nl", "en"} <= set(tickets.values_list("language", flat=True))
    ages = [timezone.now() - t for t in tickets.values_list("created_at", flat=True)]
    assert min(ages) < timedelta(minutes=30)
    assert any(timedelta(hours=1) < age < timedelta(days=1) for age in ages)
    assert max(ages) > timedelta(days=30)
    escalated_to = set(tickets.filter(state="escalated").values_list("department__slug", flat=True))
    assert {"legal", "compliance", "hr", "risk", "complaints-office"} <= escalated_to


@pytest.mark.django_db
def test_messages_and_audit_come_from_the_people_who_acted(demo):
    ticket = demo_ticket("it-diamanti")
    moves = list(
        TicketEvent.objects.filter(ticket=ticket, kind="transition").values_list(
            "transition", "actor__username"
        )
    )
    assert moves == [
        ("triage", "agent"), ("claim", "agent"), ("escalate", "agent"), ("transfer", "legal"),
        ("return_to_care", "compliance"),
    ]
    assert ticket.notes.get(is_guidance=True).department.slug == "compliance"
    assert ticket.messages.filter(direction="out", author_user__username="agent").exists()
    assert TicketEvent.objects.filter(ticket=ticket, kind="created").get().created_at == ticket.created_at


@pytest.mark.django_db
def test_hr_complaint_is_confidential_and_only_hr_sees_it(demo, client):
    ticket = demo_ticket("hr-branch-conduct")
    assert ticket.state == "escalated" and ticket.department.slug == "hr"
    assert ticket.confidential
    for outsider in ("agent", "agent2", "lead", "compliance", "legal"):
        assert not selectors.ticket_visible_qs(user(outsider)).filter(pk=ticket.pk).exists()
    assert selectors.ticket_visible_qs(user("hr")).filter(pk=ticket.pk).exists()
    client.force_login(user("agent"))
    assert client.get(f"/tickets/{ticket.pk}/").status_code == 404
    assert ticket.subject not in client.get("/tickets/").content.decode()
    client.force_login(user("hr"))
    assert client.get(f"/tickets/{ticket.pk}/").status_code == 200


@pytest.mark.django_db
def test_hashtag_wave_under_one_sponsored_tweet(demo):
    wave = [t for t in Ticket.objects.filter(context__has_key="demo_key")
            if WAVE_TAG in t.context.get("hashtags", [])]
    assert len(wave) >= 10
    assert len({t.conversation_key for t in wave}) == 1
    assert all(t.context["sponsored"] and t.channel.kind == "x" for t in wave)
    for ticket in wave:
        assert WAVE_TAG in ticket.messages.order_by("created_at").first().hashtags
    # Most of the wave is still untouched: nobody triaged it as one incident.
    assert sum(t.state == "new" for t in wave) >= 5


@pytest.mark.django_db
def test_disabled_bay_answered_within_the_hour_then_thanked(demo):
    ticket = demo_ticket("disabled-bay")
    thread = list(ticket.messages.order_by("created_at"))
    complaint, reply = thread[0], next(m for m in thread if m.direction == "out")
    assert timezone.localtime(complaint.created_at).strftime("%H:%M") == "17:00"
    assert reply.is_public and "rimossa" in reply.body
    assert timedelta(0) < reply.created_at - complaint.created_at <= timedelta(hours=1, minutes=5)
    thanks = thread[-1]
    assert thanks.direction == "in" and "grazie" in thanks.body.lower()
    assert thanks.created_at - reply.created_at > timedelta(hours=12)
    assert ticket.state == "resolved" and ticket.resolved_at > thanks.created_at
    assert ticket.first_response_at == reply.created_at


@pytest.mark.django_db
def test_refund_promised_by_letter_reaches_the_complaints_office(demo):
    ticket = demo_ticket("refund-unpaid")
    assert ticket.is_formal_complaint and ticket.complaint_category == "payment_services"
    kinds = list(ticket.messages.order_by("created_at").values_list("channel__kind", flat=True))
    assert kinds[0] == "letter" and "certified_email" in kinds and kinds[-1] == "x"
    authors = {m.author_identity.customer_id for m in ticket.messages.filter(direction="in")}
    assert authors == {ticket.customer_id}  # letter, PEC and X: one customer
    assert ticket.state == "escalated" and ticket.department.slug == "complaints-office"
    assert timezone.now() - ticket.created_at > timedelta(days=60)


@pytest.mark.django_db
def test_linkedin_comments_under_the_sponsored_post_answered_late(demo):
    comments = Ticket.objects.filter(channel__kind="linkedin", context__sponsored=True)
    assert comments.count() >= 6
    late = [t for t in comments if t.first_response_at]
    assert late and all(t.first_response_at - t.created_at > timedelta(days=3) for t in late)
    assert comments.filter(first_response_at__isnull=True, state="new").exists()


@pytest.mark.django_db
def test_demo_accounts_lists_every_user_and_the_password(demo):
    out = StringIO()
    call_command("demo_accounts", stdout=out)
    text = out.getvalue()
    assert "http://127.0.0.1:8000/" in text and DEMO_PASSWORD in text
    for spec in USERS:
        assert spec.username in text
    assert "Compliance reviewer" in text
