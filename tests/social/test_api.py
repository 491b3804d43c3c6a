"""`POST /api/inbound/`: token auth, validation with limits, same event path, documented."""

import json

import pytest
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token

from apps.social.models import InboundDelivery, InboundEvent
from apps.tickets.models import Channel, Message, Ticket
from tests.factories import ChannelFactory, UserFactory

pytestmark = pytest.mark.django_db

ITEM = {
    "channel": "reviews",
    "external_id": "review-8841",
    "kind": "post",
    "text": "Ho chiesto il rimborso tre settimane fa e non ho ancora ricevuto nulla. Vergogna.",
    "author": {"external_id": "u-1207", "name": "Giulia R.", "email": "giulia@example.com"},
    "created_at": "2026-03-02T09:14:00+01:00",
    "hashtags": ["#rimborso"],
    "context": {"text": "Recensioni clienti", "url": "https://reviews.example.com/banca"},
}


@pytest.fixture
def integration(world):
    ChannelFactory(kind=Channel.Kind.API, name="Reviews", slug="reviews", team=world.care)
    user = UserFactory(username="crm-bridge")
    user.user_permissions.add(Permission.objects.get(codename="add_inboundevent"))
    return Token.objects.create(user=user)


def post(client, data, token=None, **extra):
    headers = {"HTTP_AUTHORIZATION": f"Token {token.key}"} if token else {}
    return client.post("/api/inbound/", data=data, content_type="application/json", **headers, **extra)


def test_inbound_item_becomes_a_ticket(client, integration, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, ITEM, integration)
    assert response.status_code == 202 and response.json() == {"accepted": 1, "duplicates": 0}
    ticket = Ticket.objects.get()
    assert ticket.channel.slug == "reviews" and ticket.language == "it"
    assert ticket.context == {"text": "Recensioni clienti", "url": "https://reviews.example.com/banca"}
    message = ticket.messages.get()
    assert message.external_id == "review-8841" and message.hashtags == ["rimborso"]
    assert ticket.customer.email == "giulia@example.com"
    assert InboundEvent.objects.get().status == "processed"
    assert InboundDelivery.objects.get().source == "api"


def test_duplicate_external_id_is_accepted_once(client, integration, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post(client, ITEM, integration)
        again = post(client, ITEM, integration)
    assert again.status_code == 200 and again.json() == {"accepted": 0, "duplicates": 1}
    assert Message.objects.count() == 1


def test_same_email_on_another_channel_is_the_same_customer(client, integration, deliver,
                                                           django_capture_on_commit_callbacks):
    deliver("email", "email_plain.eml")
    item = {**ITEM, "author": {"external_id": "crm-77", "name": "Luca Verdi", "email": "luca.verdi@example.it"}}
    with django_capture_on_commit_callbacks(execute=True):
        post(client, item, integration)
    customers = {t.customer_id for t in Ticket.objects.all()}
    assert Ticket.objects.count() == 2 and len(customers) == 1


@pytest.mark.parametrize("change, field", [
    ({"channel": "nope"}, "channel"),
    ({"external_id": ""}, "external_id"),
    ({"external_id": "x" * 256}, "external_id"),
    ({"text": "   "}, "text"),
    ({"kind": "tweet"}, "kind"),
    ({"hashtags": ["a"] * 31}, "hashtags"),
    ({"author": {"name": "no id"}}, "author"),
    ({"created_at": "yesterday"}, "created_at"),
])
def test_invalid_fields_are_400_with_the_field_named(client, integration, change, field):
    response = post(client, {**ITEM, **change}, integration)
    assert response.status_code == 400 and field in response.json()
    assert InboundEvent.objects.count() == 0


def test_text_longer_than_the_limit_is_400(client, integration, settings):
    response = post(client, {**ITEM, "text": "a" * (settings.MESSAGE_MAX_CHARS + 1)}, integration)
    assert response.status_code == 400


def test_oversized_body_is_413(client, integration, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 200
    assert post(client, ITEM, integration).status_code == 413


@pytest.mark.parametrize("body", [
    b"\xff{", b"[1, 2]", b"null", b'"text"',
    b'{"a":' * 5000 + b"1" + b"}" * 5000,  # deeper than the JSON parser goes
    b'{"channel": "reviews", "external_id": 1' + b"0" * 5000 + b', "text": "x"}',
    json.dumps({**ITEM, "text": "ciao \ud800"}).encode(), json.dumps({**ITEM, "text": "ciao \u0000"}).encode(),
])
def test_not_json_or_not_an_object_is_400(client, integration, body):
    response = client.post("/api/inbound/", data=body, content_type="application/json",
                           HTTP_AUTHORIZATION=f"Token {integration.key}")
    assert response.status_code == 400
    assert not InboundEvent.objects.exists()


def test_a_follower_count_no_column_holds_is_stored_as_the_largest_one(
    client, integration, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, {**ITEM, "author": {"external_id": "u-1", "followers_count": 10**30}}, integration)
    assert response.status_code == 202
    assert InboundEvent.objects.get().status == "processed"
    assert Message.objects.get().author_identity.followers_count == 2**31 - 1


def test_authentication_and_permission(client, integration, world):
    assert post(client, ITEM).status_code == 401
    assert post(client, ITEM, Token.objects.create(user=world.agent)).status_code == 403


def test_documented_in_the_schema(client, world):
    client.force_login(world.admin)
    schema = client.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/inbound/"]["post"]
    assert operation["operationId"] == "inbound_create"
    assert {"202", "400", "413"} <= set(operation["responses"])
    item = schema["components"]["schemas"]["InboundItem"]
    assert item["properties"]["external_id"]["maxLength"] == 255
