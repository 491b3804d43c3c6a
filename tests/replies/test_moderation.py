"""Customers who expose their own data in public: the post is flagged, and can be hidden."""

import pytest
from django.utils import timezone

from apps.core.exceptions import ApplicationError, PermissionRefused
from apps.replies import services
from apps.tickets.models import Message, TicketEvent
from apps.tickets.services import message_record

from .helpers import channel

pytestmark = pytest.mark.django_db


def inbound(ticket, body, *, public=True, external_id="c-1"):
    return message_record(ticket=ticket, channel=ticket.channel, direction="in", body=body,
                          created_at=timezone.now(), is_public=public, external_id=external_id)


def test_inbound_public_post_with_personal_data_is_flagged(world):
    ticket = world.ticket(state="open")
    message = inbound(ticket, "Refund me on IT60 X054 2811 1010 0000 0123 456 or call 333 123 4567")
    stored = Message.objects.get(pk=message.pk)
    assert [f["kind"] for f in stored.pii_flags] == ["iban", "phone"]
    assert stored.pii_flags[0]["masked"] == "IT60 •••• 3456"


def test_private_and_clean_messages_are_not_flagged(world):
    ticket = world.ticket(state="open")
    private = inbound(ticket, "My IBAN is NL91ABNA0417164300", public=False, external_id="dm-1")
    clean = inbound(ticket, "Your app is down again", external_id="c-2")
    assert Message.objects.get(pk=private.pk).pii_flags == []
    assert Message.objects.get(pk=clean.pk).pii_flags == []


def test_our_own_outbound_messages_are_not_flagged(world):
    ticket = world.ticket(state="open")
    out = message_record(ticket=ticket, channel=ticket.channel, direction="out", created_at=timezone.now(),
                         body="Call us on 02 1234 5678")
    assert Message.objects.get(pk=out.pk).pii_flags == []


def test_hiding_a_facebook_comment_calls_meta_and_is_audited(world, fake_platform):
    fb = channel("facebook", slug="fb", fake=fake_platform, account_id="page-1", team=world.care)
    ticket = world.ticket(state="open", channel=fb)
    message = inbound(ticket, "My card 4111 1111 1111 1111 was charged twice", external_id="post_c1")
    services.message_hide(message=Message.objects.get(pk=message.pk), actor=world.agent)
    (request,) = fake_platform.writes
    assert (request.method, request.path, request.body) == ("POST", "/post_c1", {"is_hidden": True})
    assert Message.objects.get(pk=message.pk).is_hidden
    event = TicketEvent.objects.get(ticket=ticket, kind="moderation")
    assert event.actor == world.agent and event.transition == "hide_comment"
    assert event.data["personal_data"] == ["payment card number"]
    assert event.data["sandbox"] is False
    with pytest.raises(ApplicationError, match="already hidden"):
        services.message_hide(message=Message.objects.get(pk=message.pk), actor=world.agent)


def test_hiding_in_sandbox_records_the_call(world, fake_platform):
    fb = channel("facebook", slug="fb-sandbox", account_id="page-1", team=world.care)
    ticket = world.ticket(state="open", channel=fb)
    message = inbound(ticket, "IBAN NL91ABNA0417164300", external_id="post_c2")
    services.message_hide(message=message, actor=world.agent)
    event = TicketEvent.objects.get(ticket=ticket, kind="moderation")
    assert event.data["request"]["url"].endswith("/post_c2")
    assert event.data["request"]["json"] == {"is_hidden": True}
    assert event.data["sandbox"] is True
    assert fake_platform.requests == []


def test_hiding_an_x_reply_and_an_instagram_comment(world, fake_platform):
    x = channel("x", slug="x-live", fake=fake_platform, team=world.care)
    ig = channel("instagram", slug="ig-live", fake=fake_platform, team=world.care)
    for ch, ext in ((x, "1789"), (ig, "ig-c1")):
        ticket = world.ticket(state="open", channel=ch)
        services.message_hide(message=inbound(ticket, "see my iban", external_id=ext), actor=world.agent)
    x_call, ig_call = fake_platform.writes
    assert (x_call.method, x_call.path, x_call.body) == ("PUT", "/2/tweets/1789/hidden", {"hidden": True})
    assert (ig_call.method, ig_call.path, ig_call.body) == ("POST", "/ig-c1", {"hide": True})


def test_network_refusal_is_reported_and_nothing_changes(world, fake_platform):
    fb = channel("facebook", slug="fb-err", fake=fake_platform, account_id="page-1", team=world.care)
    ticket = world.ticket(state="open", channel=fb)
    message = inbound(ticket, "x", external_id="post_c3")
    fake_platform.answer_next("400")
    with pytest.raises(services.PlatformError, match="did not hide"):
        services.message_hide(message=message, actor=world.agent)
    assert not Message.objects.get(pk=message.pk).is_hidden
    assert not TicketEvent.objects.filter(kind="moderation").exists()


def test_linkedin_cannot_hide_and_only_the_team_may(world):
    li = channel("linkedin", slug="li", team=world.care)
    ticket = world.ticket(state="open", channel=li)
    message = inbound(ticket, "x", external_id="urn:li:comment:(urn:li:activity:1,2)")
    with pytest.raises(ApplicationError, match="LinkedIn"):
        services.message_hide(message=message, actor=world.agent)
    x_ticket = world.ticket(state="open")
    x_message = inbound(x_ticket, "x", external_id="55")
    with pytest.raises(PermissionRefused):
        services.message_hide(message=x_message, actor=world.outsider)
    with pytest.raises(ApplicationError, match="public comment"):
        services.message_hide(message=inbound(x_ticket, "dm", public=False, external_id="56"),
                              actor=world.agent)


def test_hide_button_on_the_ticket(world, client):
    ticket = world.ticket(state="open")
    message = inbound(ticket, "my BSN is 111222333", external_id="77")
    client.force_login(world.agent)
    page = client.get(f"/replies/ticket/{ticket.pk}/").content.decode()
    assert "The customer exposed personal data in public" in page
    assert "Dutch citizen service number (BSN)" in page and "•••• 333" in page
    response = client.post(f"/replies/messages/{message.pk}/hide/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "exposed personal data" not in response.content.decode()
    assert "threadChanged" in response["HX-Trigger"]
    assert Message.objects.get(pk=message.pk).is_hidden
