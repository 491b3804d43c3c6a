import pytest
from django.urls import reverse

from apps.tickets.demo import demo_organisation_ensure, demo_users_ensure

pytestmark = pytest.mark.django_db


def test_a_lead_tunes_triage_rules_in_the_admin_and_an_agent_cannot(client, world):
    world.lead.is_staff = world.agent.is_staff = True
    world.lead.save()
    world.agent.save()
    url = reverse("admin:triage_keywordrule_changelist")

    client.force_login(world.lead)
    assert client.get(url).status_code == 200
    assert client.get(reverse("admin:triage_routingrule_add")).status_code == 200

    client.force_login(world.agent)
    assert client.get(url).status_code == 403


def test_demo_lead_reaches_the_admin_and_demo_agents_do_not(client):
    users = demo_users_ensure(demo_organisation_ensure())
    assert users["lead"].is_staff
    assert not users["agent"].is_staff
    client.force_login(users["lead"])
    assert client.get(reverse("admin:sla_slapolicy_changelist")).status_code == 200
