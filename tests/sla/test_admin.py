"""Leads tune SLA policies and calendars in the admin; saving recomputes open tickets."""

import pytest
from django.forms.models import model_to_dict

from apps.sla.models import Calendar, RegulatoryRule, SlaPolicy

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead_client(client, world):
    world.lead.is_staff = True
    world.lead.save()
    client.force_login(world.lead)
    return client


def policy_form(policy: SlaPolicy, **changes) -> dict:
    data = {k: ("" if v is None else v) for k, v in model_to_dict(policy).items()}
    data.update(changes)
    return {k: v for k, v in data.items() if k != "id"}


def test_lead_edits_a_policy_and_open_tickets_follow(
    lead_client, open_ticket, clock, django_capture_on_commit_callbacks
):
    ticket = open_ticket()
    policy = SlaPolicy.objects.get(name="Public social (X, Facebook, Instagram)")
    assert lead_client.get("/admin/sla/slapolicy/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = lead_client.post(
            f"/admin/sla/slapolicy/{policy.pk}/change/", policy_form(policy, first_response_minutes=20)
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    ticket.refresh_from_db()
    assert (ticket.first_response_due - ticket.created_at).total_seconds() == 20 * 60


def test_policy_form_refuses_unknown_conditions_and_targets_without_calendar(lead_client):
    policy = SlaPolicy.objects.get(name="LinkedIn")
    response = lead_client.post(
        f"/admin/sla/slapolicy/{policy.pk}/change/",
        policy_form(policy, channel_kinds=["myspace"], next_response_calendar=""),
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "myspace" in body and "A target needs a calendar." in body


def test_calendar_action_recomputes_the_tickets_that_use_it(
    lead_client, open_ticket, clock, django_capture_on_commit_callbacks
):
    ticket = open_ticket()
    italy = Calendar.objects.get(name="Italy")
    before = ticket.resolution_due
    # Wednesday becomes a holiday: the resolution deadline moves to Thursday.
    italy.holidays.create(name="Strike", kind="date", date=clock.now.date().replace(day=5))
    with django_capture_on_commit_callbacks(execute=True):
        response = lead_client.post(
            "/admin/sla/calendar/", {"action": "recompute_open_tickets", "_selected_action": [italy.pk]}
        )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.resolution_due - before).days == 1


def test_lead_may_read_but_not_create_regulatory_rules_and_agents_see_nothing(client, lead_client, world):
    assert lead_client.get("/admin/sla/regulatoryrule/").status_code == 200
    assert lead_client.get("/admin/sla/regulatoryrule/add/").status_code == 403
    rule = RegulatoryRule.objects.get(category="banking")
    assert lead_client.get(f"/admin/sla/regulatoryrule/{rule.pk}/change/").status_code == 200
    assert lead_client.get("/admin/sla/slaclock/add/").status_code == 403
    world.agent.is_staff = True
    world.agent.save()
    client.force_login(world.agent)
    assert client.get("/admin/sla/slapolicy/").status_code == 403


def test_a_calendar_needs_opening_hours_unless_it_is_24_7(lead_client, world):
    from django.contrib.auth.models import Permission

    lead_group = world.lead.groups.get()
    lead_group.permissions.add(Permission.objects.get(codename="add_calendar"))
    base = {
        "name": "Weekend desk", "time_zone": "Europe/Amsterdam",
        "frames-TOTAL_FORMS": "0", "frames-INITIAL_FORMS": "0",
        "holidays-TOTAL_FORMS": "0", "holidays-INITIAL_FORMS": "0",
    }
    response = lead_client.post("/admin/sla/calendar/add/", base)
    assert response.status_code == 200
    assert "needs opening hours" in response.content.decode()
    with_hours = {
        **base, "frames-TOTAL_FORMS": "1", "frames-0-weekday": "5", "frames-0-start": "10:00",
        "frames-0-end": "00:00",
    }
    assert lead_client.post("/admin/sla/calendar/add/", with_hours).status_code == 302
    frame = Calendar.objects.get(name="Weekend desk").frames.get()
    assert frame.as_frame().end == 24 * 60  # 00:00 closes at midnight
