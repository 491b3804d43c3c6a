"""The leads' triage page: rules at a glance and a box to try a post."""

import pytest

pytestmark = pytest.mark.django_db


def test_leads_see_rules_and_try_a_text(client, world):
    client.force_login(world.lead)
    page = client.get("/triage/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Legal threats: suggest Legal" in body and "Employee conduct: HR, confidential" in body
    assert "Edit keywords" not in body  # leads without admin access get no dead links
    result = client.get("/triage/", {
        "text": "Mi rivolgo al mio avvocato, è una truffa", "channel": world.channel.pk, "followers": 25000,
    })
    html = result.content.decode()
    assert "Urgent" in html and "avvocato" in html and "Suggested escalation" in html


def test_try_box_answers_htmx_with_the_partial_only(client, world):
    client.force_login(world.lead)
    response = client.get("/triage/", {"text": "bedankt!", "channel": world.channel.pk}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'id="try-result"' in html and "<html" not in html and "Dutch" in html


def test_invalid_try_shows_errors(client, world):
    client.force_login(world.admin)
    response = client.get("/triage/", {"text": "", "channel": 999999})
    assert response.status_code == 200 and "Edit keywords" in response.content.decode()
    assert "field-error" in response.content.decode()


def test_agents_may_not(client, world):
    client.force_login(world.agent)
    assert client.get("/triage/").status_code == 403
