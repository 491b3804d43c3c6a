"""HTTP behaviour of the webhook endpoints: handshakes, signatures, limits, dedupe, never a 500."""

import base64
import hashlib
import hmac
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.social.models import InboundDelivery, InboundEvent
from apps.tickets.models import Message, Ticket
from tests.social.conftest import (
    LINKEDIN_SECRET,
    X_SECRET,
    fixture_bytes,
    linkedin_signature,
    meta_signature,
    x_signature,
)

pytestmark = pytest.mark.django_db


def stored() -> tuple[int, int, int]:
    return InboundDelivery.objects.count(), InboundEvent.objects.count(), Message.objects.count()


# --- handshakes -------------------------------------------------------------------------------

def test_x_crc_handshake(client, channels):
    response = client.get("/webhooks/x/demo-x/", {"crc_token": "tok-123"})
    assert response.status_code == 200
    expected = base64.b64encode(hmac.new(X_SECRET.encode(), b"tok-123", hashlib.sha256).digest()).decode()
    assert response.json() == {"response_token": f"sha256={expected}"}
    assert client.get("/webhooks/x/demo-x/").status_code == 400
    assert client.get("/webhooks/x/unknown/", {"crc_token": "t"}).status_code == 404


def test_x_crc_refused_without_a_secret(client, channels):
    channels.x.secrets = {}
    channels.x.save()
    assert client.get("/webhooks/x/demo-x/", {"crc_token": "tok"}).status_code == 403


def test_meta_verify_token_handshake(client, channels):
    ok = {"hub.mode": "subscribe", "hub.verify_token": "demo-verify-token", "hub.challenge": "1158201444"}
    response = client.get("/webhooks/meta/demo-facebook/", ok)
    assert response.status_code == 200 and response.content == b"1158201444"
    assert response["Content-Type"].startswith("text/plain")
    assert client.get("/webhooks/meta/demo-instagram/", ok).content == b"1158201444"
    wrong = {**ok, "hub.verify_token": "guess"}
    assert client.get("/webhooks/meta/demo-facebook/", wrong).status_code == 403
    assert client.get("/webhooks/meta/demo-facebook/", {**ok, "hub.mode": "other"}).status_code == 403
    assert client.get("/webhooks/meta/demo-facebook/").status_code == 403


def test_linkedin_challenge_handshake(client, channels):
    response = client.get("/webhooks/linkedin/demo-linkedin/", {"challengeCode": "890e4665-4dfe-4ab1"})
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    expected = hmac.new(LINKEDIN_SECRET.encode(), b"890e4665-4dfe-4ab1", hashlib.sha256).hexdigest()
    assert response.json() == {"challengeCode": "890e4665-4dfe-4ab1", "challengeResponse": expected}
    assert client.get("/webhooks/linkedin/demo-linkedin/").status_code == 400
    channels.linkedin.secrets = {}
    channels.linkedin.save()
    assert client.get("/webhooks/linkedin/demo-linkedin/", {"challengeCode": "x"}).status_code == 403


# --- signatures --------------------------------------------------------------------------------

@pytest.mark.parametrize("platform, fixture, header", [
    ("x", "x_tweet.json", "HTTP_X_TWITTER_WEBHOOKS_SIGNATURE"),
    ("meta", "meta_feed_comment.json", "HTTP_X_HUB_SIGNATURE_256"),
    ("linkedin", "linkedin_comment.json", "HTTP_X_LI_SIGNATURE"),
    ("email", "email_plain.eml", "HTTP_X_WEBHOOK_TOKEN"),
])
def test_bad_or_missing_signature_is_403_and_stores_nothing(deliver, platform, fixture, header):
    assert deliver(platform, fixture, headers={header: "sha256=AAAA"}).status_code == 403
    assert deliver(platform, fixture, headers={header: ""}).status_code == 403
    assert stored() == (0, 0, 0)


def test_signature_from_another_channel_secret_is_refused(deliver):
    body = fixture_bytes("x_tweet.json")
    response = deliver("x", body, headers={"HTTP_X_TWITTER_WEBHOOKS_SIGNATURE": x_signature(body, "other")})
    assert response.status_code == 403


def test_meta_body_with_unicode_escapes_is_verified_over_raw_bytes(deliver):
    body = fixture_bytes("meta_feed_comment.json")
    assert body.isascii()
    response = deliver("meta", body)
    assert response.status_code == 200 and response.json() == {"accepted": 1, "duplicates": 0}
    message = Message.objects.get()
    assert message.body == "Perché nessuno risponde? È una vergogna, aspetto il rimborso da due mesi 😡"


@pytest.mark.parametrize("prefixed_body, prefixed_header", [(False, False), (True, False), (False, True), (True, True)])
def test_linkedin_accepts_both_readings_of_the_signature(deliver, prefixed_body, prefixed_header):
    body = fixture_bytes("linkedin_comment.json")
    signature = linkedin_signature(body, prefixed_body=prefixed_body, prefixed_header=prefixed_header)
    response = deliver("linkedin", body, headers={"HTTP_X_LI_SIGNATURE": signature})
    assert response.status_code == 200
    assert Message.objects.get().body.startswith("Klantbehoeften?")


# --- refusals ----------------------------------------------------------------------------------

def test_unknown_inactive_or_wrong_platform_channel_is_404(deliver, channels):
    assert deliver("x", "x_tweet.json", slug="nope").status_code == 404
    assert deliver("x", "x_tweet.json", slug="demo-facebook").status_code == 404
    assert deliver("meta", "meta_feed_comment.json", slug="demo-x").status_code == 404
    assert deliver("email", "email_plain.eml", slug="demo-linkedin").status_code == 404
    channels.x.is_active = False
    channels.x.save()
    assert deliver("x", "x_tweet.json").status_code == 404
    assert stored() == (0, 0, 0)


def test_oversized_body_is_413(deliver, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 500
    response = deliver("x", "x_tweet.json")
    assert response.status_code == 413
    assert stored() == (0, 0, 0)


def test_oversized_mail_is_413(deliver, settings):
    settings.INGEST_MAIL_MAX_BYTES = 300
    assert deliver("email", "email_plain.eml").status_code == 413


@pytest.mark.parametrize("platform, body", [
    ("x", b"{not json"),
    ("x", b'["a list"]'),
    ("x", b'{"tweet_create_events": [{"text": "no id_str"}]}'),
    ("meta", b'{"object": "page", "entry": "nope"}'),
    ("meta", b'{"object": "whatsapp_business_account", "entry": []}'),
    ("linkedin", b'{"type": "ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS"}'),
    ("linkedin", b'{"notifications": [{"action": "COMMENT"}]}'),
    ("email", b"not a mail"),
    ("email", b""),
])
def test_malformed_but_signed_body_is_400(deliver, platform, body):
    response = deliver(platform, body)
    assert response.status_code == 400 and response.json()["error"]
    assert stored() == (0, 0, 0)


def test_only_get_and_post(client, channels):
    assert client.put("/webhooks/x/demo-x/").status_code == 405
    assert client.get("/webhooks/email/demo-email/").status_code == 405


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=2048))
def test_random_signed_bytes_never_give_a_500(deliver, body):
    for platform in ("x", "meta", "linkedin", "email"):
        assert deliver(platform, body, process=False).status_code < 500


def test_random_bytes_with_random_signature(client, channels):
    body = os.urandom(1500)
    response = client.post("/webhooks/meta/demo-facebook/", data=body, content_type="application/octet-stream",
                           HTTP_X_HUB_SIGNATURE_256="sha256=" + os.urandom(32).hex())
    assert response.status_code == 403


def test_database_outage_answers_503(deliver, monkeypatch):
    from django.db import OperationalError

    from apps.social import services

    def broken(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(services, "inbound_delivery_store", broken)
    response = deliver("x", "x_tweet.json")
    assert response.status_code == 503 and response["Retry-After"]


# --- storing and deduplicating ---------------------------------------------------------------

def test_delivery_is_stored_raw_then_processed(deliver, channels):
    body = fixture_bytes("x_tweet.json")
    response = deliver("x", body, process=False)
    assert response.status_code == 200 and response.json() == {"accepted": 1, "duplicates": 0}
    delivery = InboundDelivery.objects.get()
    assert bytes(delivery.body) == body
    assert delivery.headers["X-Twitter-Webhooks-Signature"] == x_signature(body)
    event = InboundEvent.objects.get()
    assert (event.status, event.event_key, Message.objects.count()) == ("received", "1790000000000000101", 0)


def test_same_delivery_twice_yields_one_message(deliver):
    first = deliver("x", "x_tweet.json")
    second = deliver("x", "x_tweet.json")
    assert first.json() == {"accepted": 1, "duplicates": 0}
    assert second.json() == {"accepted": 0, "duplicates": 1}
    assert stored() == (1, 1, 1)
    assert Ticket.objects.count() == 1


def test_each_item_of_a_delivery_is_its_own_event(deliver):
    assert deliver("x", "x_multi.json").json() == {"accepted": 2, "duplicates": 0}
    assert Message.objects.count() == 2 and Ticket.objects.count() == 2
    events = InboundEvent.objects.order_by("event_key")
    assert [e.status for e in events] == ["processed", "processed"]
    assert {e.ticket.customer.display_name for e in events} == {"Sam Turner", "Chiara M."}


def test_a_redelivery_overlapping_a_previous_one_stores_only_the_new_items(deliver):
    deliver("x", "x_tweet.json")
    import json

    combined = json.loads(fixture_bytes("x_tweet.json"))
    combined["tweet_create_events"] += json.loads(fixture_bytes("x_multi.json"))["tweet_create_events"]
    response = deliver("x", json.dumps(combined).encode())
    assert response.json() == {"accepted": 2, "duplicates": 1}
    assert Message.objects.count() == 3


def test_likes_are_kept_as_ignored_events_and_make_no_message(deliver):
    response = deliver("linkedin", "linkedin_like.json")
    assert response.status_code == 200
    event = InboundEvent.objects.get()
    assert event.status == "ignored" and "like" in event.detail.lower()
    assert Message.objects.count() == 0


def test_reactions_store_nothing(deliver):
    assert deliver("meta", "meta_reaction.json").json() == {"accepted": 0, "duplicates": 0}
    assert stored() == (0, 0, 0)


def test_meta_item_for_the_other_network_is_ignored(deliver):
    response = deliver("meta", "instagram_comment.json", slug="demo-facebook")
    assert response.status_code == 200
    assert InboundEvent.objects.get().status == "ignored"
    assert Message.objects.count() == 0


def test_email_token_is_not_stored_in_headers(deliver):
    deliver("email", "email_plain.eml")
    assert "X-Webhook-Token" not in InboundDelivery.objects.get().headers
    ticket = Ticket.objects.get()
    assert ticket.subject == "Rimborso commissioni non ancora ricevuto"


def test_meta_signature_header_must_cover_exact_bytes(deliver):
    body = fixture_bytes("meta_feed_comment.json")
    response = deliver("meta", body + b"\n", headers={"HTTP_X_HUB_SIGNATURE_256": meta_signature(body)})
    assert response.status_code == 403
