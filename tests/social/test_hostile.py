"""Signed deliveries carrying what users type or platforms relay that a database cannot store
as is: each is stored and processed, never answered 500, never parked as failed."""

import json

import pytest

from apps.social.adapters.base import MAX_COUNT
from apps.social.models import InboundEvent
from apps.tickets.models import Identity, Message

pytestmark = pytest.mark.django_db

BRAND = "1100000000000000001"


def tweets(*tweet_list) -> bytes:
    return json.dumps({"for_user_id": BRAND, "tweet_create_events": list(tweet_list)}).encode()


def tweet(tweet_id="1850000000000000001", text="Carta bloccata, nessuno risponde", **user) -> dict:
    return {"id_str": tweet_id, "text": text, "created_at": "Wed Oct 10 20:19:24 +0000 2018",
            "user": {"id_str": "42", "screen_name": "giulia_r", "name": "Giulia", **user}}


def only_event() -> InboundEvent:
    [event] = InboundEvent.objects.all()
    return event


def test_nul_characters_are_dropped_from_text_ids_and_raw(deliver):
    # PostgreSQL refuses NUL in text and JSON columns: the event would fail on every retry.
    body = tweets(tweet(tweet_id="18500\u00000001", text="Carta\u0000 bloccata", name="Giu\u0000lia"))
    assert b"\\u0000" in body
    assert deliver("x", body).status_code == 200
    event = only_event()
    assert event.status == "processed" and event.event_key == "185000001"
    message = Message.objects.get()
    assert message.body == "Carta bloccata" and message.external_id == "185000001"
    assert message.author_identity.display_name == "Giulia"
    assert "\u0000" not in json.dumps(message.raw)


def test_lone_surrogates_become_replacement_characters(deliver):
    # Half of an emoji's surrogate pair is valid JSON but not UTF-8: it cannot be stored.
    body = (b'{"for_user_id": "1", "tweet_create_events": [{"id_str": "77\\ud800", "text": "ciao \\udfff",'
            b' "user": {"id_str": "7", "name": "\\ud83d"}}]}')
    response = deliver("x", body)
    assert response.status_code == 200, response.content
    event = only_event()
    assert event.status == "processed" and event.event_key == "77\ufffd"
    message = Message.objects.get()
    assert message.body == "ciao \ufffd" and message.author_identity.display_name == "\ufffd"


@pytest.mark.parametrize("followers, stored", [(10**30, MAX_COUNT), (-5, None), (2**40, MAX_COUNT)])
def test_follower_counts_no_column_holds(deliver, followers, stored):
    assert deliver("x", tweets(tweet(followers_count=followers))).status_code == 200
    assert only_event().status == "processed"
    assert Identity.objects.get(external_id="42").followers_count == stored


def test_raw_utf8_and_windows_1252_names_in_mail_headers_are_decoded(deliver):
    # Many mailers put the sender's name in the header as raw 8-bit bytes, unencoded.
    utf8 = "From: José Müller <jose@example.es>\r\nMessage-ID: <a1@example.es>\r\n\r\nHola\r\n".encode()
    cp1252 = b"From: M\xe0rio Ross\xec <mario@example.it>\r\nMessage-ID: <a2@example.it>\r\n\r\nCiao\r\n"
    assert deliver("email", utf8).status_code == 200
    assert deliver("email", cp1252).status_code == 200
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"processed"}
    names = set(Identity.objects.values_list("display_name", flat=True))
    assert names == {"José Müller", "Màrio Rossì"}


def test_nul_in_a_mail_body_and_subject(deliver):
    raw = b"From: mario@example.it\r\nSubject: Rimborso\x00 negato\r\nMessage-ID: <a3@x>\r\n\r\nCi\x00ao\r\n"
    assert deliver("email", raw).status_code == 200
    assert only_event().status == "processed"
    message = Message.objects.get()
    assert message.body == "Ciao" and message.subject == "Rimborso negato"
