"""Flagging and classifying a formal complaint from the browser."""

import pytest

from apps.sla.models import ClockKind, SlaClock

from .conftest import rome

pytestmark = pytest.mark.django_db


def test_an_unclassified_formal_complaint_gets_the_strictest_rule(open_ticket, clock):
    # As the intake page opens it: flagged, category not known yet.
    ticket = open_ticket(is_formal_complaint=True)
    ticket.refresh_from_db()
    assert ticket.regulatory_due == rome(2025, 3, 24, 23, 59, 59)  # 15 business days beat 60 days
    assert SlaClock.objects.get(ticket=ticket, kind=ClockKind.REGULATORY).rule.category == "payment_services"


def test_agent_classifies_a_complaint_and_sees_the_regulators_deadline(client, world, open_ticket, clock):
    ticket = open_ticket()
    client.force_login(world.agent)
    url = f"/sla/tickets/{ticket.pk}/formal-complaint/"
    page = client.get(url)
    assert page.status_code == 200
    assert "Banking complaint" in page.content.decode()
    response = client.post(url, {"category": "banking", "version": ticket.version})
    assert response.status_code == 302 and response["Location"] == f"/tickets/{ticket.pk}/"
    ticket.refresh_from_db()
    assert (ticket.complaint_category, ticket.regulatory_due) == ("banking", rome(2025, 5, 2, 23, 59, 59))

    htmx = client.post(url, {"category": "", "version": ticket.version}, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200
    body = htmx.content.decode()
    assert body.lstrip().startswith('<div id="formal-complaint-panel"') and "<html" not in body
    ticket.refresh_from_db()
    assert not ticket.is_formal_complaint and ticket.regulatory_due is None


def test_bad_input_and_strangers_get_clear_refusals(client, world, open_ticket, clock):
    ticket = open_ticket()
    url = f"/sla/tickets/{ticket.pk}/formal-complaint/"
    client.force_login(world.agent)
    bad = client.post(url, {"category": "astrology", "version": ticket.version})
    assert bad.status_code == 400 and "Choose one of the listed categories" in bad.content.decode()
    assert client.post(url, {"category": "banking", "version": "x"}).status_code == 400
    stale = client.post(url, {"category": "banking", "version": ticket.version - 1})
    assert stale.status_code == 409
    client.force_login(world.outsider)
    assert client.get(url).status_code == 404
    assert client.post(url, {"category": "banking", "version": ticket.version}).status_code == 404
    client.force_login(world.compliance_user)  # cannot see a ticket still with care
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302
