"""Adapters read recorded deliveries into items without touching the database."""

import json
from datetime import UTC, datetime

import pytest

from apps.social.adapters import X_V2, MalformedPayload, email, linkedin, meta, parse_delivery, x
from apps.social.adapters.base import EDIT, IN, OUT, REMOVE
from tests.social.conftest import (
    BRAND_X_ID,
    IG_ACCOUNT,
    LINKEDIN_SECRET,
    META_SECRET,
    PAGE_ID,
    X_SECRET,
    fixture_bytes,
    linkedin_signature,
    meta_signature,
    x_signature,
)


def test_x_tweet_reply_to_brand():
    [item] = x.parse(fixture_bytes("x_tweet.json"))
    assert item.external_id == item.event_key == "1790000000000000101"
    assert item.direction == IN and item.kind == "comment" and item.is_public
    assert item.author.handle == "giulia_r" and item.author.followers_count == 1520
    assert item.parent_external_id == "1790000000000000001"
    assert item.hashtags == ("bancachenoncera",)
    assert item.created_at == datetime(2026, 3, 2, 9, 14, 5, tzinfo=UTC)
    assert item.context == {"id": "1790000000000000001", "url": "https://x.com/i/web/status/1790000000000000001"}
    assert "carta è bloccata" in item.text


def test_x_truncated_tweet_uses_the_full_text_and_its_entities():
    [item] = x.parse(fixture_bytes("x_tweet_truncated.json"))
    assert item.text.endswith("Voglio il rimborso. #mutuo #trasparenza")
    assert "…" not in item.text
    assert item.hashtags == ("mutuo", "trasparenza")
    assert item.kind == "post"


def test_x_brand_tweet_is_outgoing():
    [item] = x.parse(fixture_bytes("x_brand_echo.json"))
    assert item.direction == OUT
    assert item.parent_external_id == "1790000000000000101"


def test_x_quote_of_brand_tweet_carries_its_text_as_context():
    [item] = x.parse(fixture_bytes("x_quote.json"))
    assert item.context["text"].startswith("Wij zetten klantbehoeften centraal")
    assert item.context["id"] == "1790000000000000002"


def test_x_several_tweets_in_one_delivery_and_string_booleans():
    items = x.parse(fixture_bytes("x_multi.json"))
    assert [i.external_id for i in items] == ["1790000000000000401", "1790000000000000402"]


def test_x_retweet_is_recognised_but_ignored():
    [item] = x.parse(fixture_bytes("x_retweet.json"))
    assert item.ignore_reason


def test_x_direct_messages_with_users_map():
    [dm] = x.parse(fixture_bytes("x_dm.json"))
    assert dm.kind == "dm" and not dm.is_public and dm.direction == IN
    assert dm.author.name == "Giulia Rossi" and dm.author.handle == "giulia_r"
    assert dm.conversation_key == "x-dm:2200000000000000201"
    [echo] = x.parse(fixture_bytes("x_dm_echo.json"))
    assert echo.direction == OUT and echo.conversation_key == dm.conversation_key


def test_x_unknown_event_kinds_yield_nothing():
    assert x.parse(json.dumps({"for_user_id": BRAND_X_ID, "favorite_events": [{"id": "1"}]}).encode()) == []


@pytest.mark.parametrize("body", [
    b"", b"[]", b"not json", b'{"tweet_create_events": {"a": 1}}', b'{"tweet_create_events": [{"text": "no id"}]}',
    b'{"tweet_create_events": ["a string"]}', b"\xff\xfe\x00garbage",
])
def test_x_malformed(body):
    with pytest.raises(MalformedPayload):
        x.parse(body)


def test_x_crc_and_signature():
    response = x.crc_response("challenge-123", X_SECRET)
    assert response["response_token"].startswith("sha256=")
    body = fixture_bytes("x_tweet.json")
    assert x.signature_valid(body, x_signature(body), X_SECRET)
    assert not x.signature_valid(body + b" ", x_signature(body), X_SECRET)
    assert not x.signature_valid(body, "", X_SECRET)
    assert not x.signature_valid(body, x_signature(body), "")
    assert not x.signature_valid(body, "sha256=é", X_SECRET)


def test_x_v2_lines():
    lines = fixture_bytes("x_v2.jsonl").splitlines()
    root = parse_delivery(X_V2, lines[0], channel_kind="x", account_id=BRAND_X_ID)[0]
    reply = parse_delivery(X_V2, lines[1], channel_kind="x", account_id=BRAND_X_ID)[0]
    assert root.author.handle == "emma_w" and root.hashtags == ("mortgage",)
    assert root.created_at == datetime(2026, 3, 4, 8, 15, tzinfo=UTC)
    assert reply.parent_external_id == root.external_id
    assert reply.conversation_key == root.conversation_key == "x:1790000000000000701"
    retweet = parse_delivery(X_V2, lines[3], channel_kind="x", account_id=BRAND_X_ID)[0]
    assert retweet.ignore_reason
    with pytest.raises(MalformedPayload):
        parse_delivery(X_V2, lines[4], channel_kind="x", account_id=BRAND_X_ID)
    with pytest.raises(MalformedPayload):
        parse_delivery(X_V2, lines[5], channel_kind="x", account_id=BRAND_X_ID)


def test_meta_signature_covers_the_escaped_bytes():
    body = fixture_bytes("meta_feed_comment.json")
    assert b"\\u00e8" not in body and b"\\u00e9" in body  # the file is ASCII with \uXXXX escapes
    assert meta.signature_valid(body, meta_signature(body), META_SECRET)
    assert meta.signature_valid(body, meta_signature(body).upper().replace("SHA256", "sha256"), META_SECRET)
    reserialised = json.dumps(json.loads(body), ensure_ascii=False).encode()
    assert not meta.signature_valid(reserialised, meta_signature(body), META_SECRET)


def test_meta_feed_comment_add_edit_remove():
    [added] = meta.parse(fixture_bytes("meta_feed_comment.json"), account_id=PAGE_ID)
    assert added.text == "Perché nessuno risponde? È una vergogna, aspetto il rimborso da due mesi 😡"
    assert added.author.name == "Marco Bianchi" and added.direction == IN
    assert added.conversation_key == "fb:104500000000001_880000000000001"
    assert added.context["url"] == "https://www.facebook.com/bancaesempio/posts/880000000000001"
    [edited] = meta.parse(fixture_bytes("meta_feed_edited.json"))
    [removed] = meta.parse(fixture_bytes("meta_feed_remove.json"))
    assert edited.action == EDIT and removed.action == REMOVE
    assert edited.external_id == removed.external_id == added.external_id
    assert len({added.event_key, edited.event_key, removed.event_key}) == 3


def test_meta_legacy_sender_fields_and_page_echo():
    [legacy] = meta.parse(fixture_bytes("meta_feed_legacy_sender.json"))
    assert legacy.author.external_id == "5500000000000002" and legacy.author.name == "Sara Gallo"
    [echo] = meta.parse(fixture_bytes("meta_page_reply_echo.json"))
    assert echo.direction == OUT and echo.parent_external_id == "880000000000001_990000000000001"


def test_meta_reactions_and_receipts_are_not_messages():
    assert meta.parse(fixture_bytes("meta_reaction.json")) == []
    assert meta.parse(fixture_bytes("messenger_receipts.json")) == []


def test_instagram_both_entry_shapes():
    [nested] = meta.parse(fixture_bytes("instagram_comment.json"))
    [flat] = meta.parse(fixture_bytes("instagram_comment_flat.json"))
    assert nested.platform == flat.platform == "instagram"
    assert nested.author.handle == "anna.devries" and nested.text.endswith("😤")
    assert flat.parent_external_id == nested.external_id
    assert flat.conversation_key == nested.conversation_key == "ig:17950000000000001"


def test_messenger_and_instagram_dms():
    [dm] = meta.parse(fixture_bytes("messenger_dm.json"))
    [echo] = meta.parse(fixture_bytes("messenger_echo.json"))
    assert dm.kind == "dm" and not dm.is_public and dm.direction == IN
    assert echo.direction == OUT and echo.conversation_key == dm.conversation_key == "facebook-dm:6600000000000001"
    [ig] = meta.parse(fixture_bytes("instagram_dm.json"), account_id=IG_ACCOUNT)
    assert ig.platform == "instagram" and "[image] https://lookaside" in ig.text


def test_a_message_sent_by_the_page_is_outgoing_even_without_the_echo_flag():
    data = json.loads(fixture_bytes("messenger_echo.json"))
    data["entry"][0]["messaging"][0]["message"]["is_echo"] = "true"  # a string, not the boolean
    [echo] = meta.parse(json.dumps(data).encode())
    assert echo.direction == OUT and echo.conversation_key == "facebook-dm:6600000000000001"


@pytest.mark.parametrize("body", [
    b'{"object": "user", "entry": []}', b'{"object": "page"}', b'{"object": "page", "entry": [1]}',
    b'{"object": "page", "entry": [{"changes": "x"}]}',
    b'{"object": "page", "entry": [{"changes": [{"field": "feed", "value": {"item": "comment", "verb": "add"}}]}]}',
])
def test_meta_malformed(body):
    with pytest.raises(MalformedPayload):
        meta.parse(body)


def test_meta_handshake():
    params = {"hub.mode": "subscribe", "hub.verify_token": "demo-verify-token", "hub.challenge": "1158201444"}
    assert meta.handshake(params, "demo-verify-token") == "1158201444"
    assert meta.handshake({**params, "hub.verify_token": "wrong"}, "demo-verify-token") is None
    assert meta.handshake({**params, "hub.mode": "unsubscribe"}, "demo-verify-token") is None
    assert meta.handshake(params, "") is None


@pytest.mark.parametrize("prefixed_body", [False, True])
@pytest.mark.parametrize("prefixed_header", [False, True])
def test_linkedin_signature_both_readings(prefixed_body, prefixed_header):
    body = fixture_bytes("linkedin_comment.json")
    header = linkedin_signature(body, prefixed_body=prefixed_body, prefixed_header=prefixed_header)
    assert linkedin.signature_valid(body, header, LINKEDIN_SECRET)
    assert not linkedin.signature_valid(body, header, "other-secret")


def test_linkedin_comment_admin_comment_and_like():
    [comment] = linkedin.parse(fixture_bytes("linkedin_comment.json"))
    assert comment.event_key == "1700001" and comment.direction == IN
    assert comment.external_id == "urn:li:comment:(urn:li:activity:7100000000000000002,7100000000000000003)"
    assert comment.author.external_id == "urn:li:person:AbC123xyz" and not comment.author.name
    assert comment.context["text"].startswith("Wat zijn de klantbehoeften")
    assert comment.conversation_key == "li:urn:li:share:7100000000000000001"
    [message_text] = linkedin.parse(fixture_bytes("linkedin_comment_message_text.json"))
    assert message_text.text.startswith("Mooie woorden")
    [admin] = linkedin.parse(fixture_bytes("linkedin_admin_comment.json"))
    assert admin.direction == OUT and admin.parent_external_id == comment.external_id
    [like] = linkedin.parse(fixture_bytes("linkedin_like.json"))
    assert like.ignore_reason


def test_linkedin_challenge():
    response = linkedin.challenge_response("f5fc0e4a-1c5e", LINKEDIN_SECRET)
    assert response["challengeCode"] == "f5fc0e4a-1c5e" and len(response["challengeResponse"]) == 64


def test_email_plain():
    [item] = email.parse(fixture_bytes("email_plain.eml"), account_id="care@bancaesempio.it")
    assert item.external_id == "<CAF3p1=abc123@mail.example.it>"
    assert item.author.email == "luca.verdi@example.it" and item.author.name == "Luca Verdi"
    assert item.subject == "Rimborso commissioni non ancora ricevuto"
    assert "non è arrivato nulla" in item.text and not item.is_public
    assert item.created_at == datetime(2026, 3, 2, 9, 15, tzinfo=UTC)


def test_email_html_only_becomes_text_without_markup():
    [item] = email.parse(fixture_bytes("email_html_only.eml"))
    assert "foutmelding én de app loopt vast" in item.text
    assert "- Rekening: NL00 BANK 0123 4567 89" in item.text
    assert "de storingspagina (https://status.example.nl/incident/42)" in item.text
    for leaked in ("<", "alert(", "color:red", "open.gif", "Klacht"):
        assert leaked not in item.text


def test_email_reply_threading_headers_and_attachments():
    [reply] = email.parse(fixture_bytes("email_reply.eml"))
    assert reply.parent_external_id == "<ct-reply-7f3a@bancaesempio.it>"
    assert reply.references == ("<CAF3p1=abc123@mail.example.it>", "<ct-reply-7f3a@bancaesempio.it>")
    assert reply.text.startswith("Grazie, ma l'accredito")
    [with_ref] = email.parse(fixture_bytes("email_subject_ref.eml").replace(b"CT-000000", b"CT-000042"))
    assert with_ref.ticket_reference == 42
    assert "[attachments: ricevuta.pdf (application/pdf," in with_ref.text


def test_certified_email_reads_the_original_message():
    [item] = email.parse(fixture_bytes("email_pec.eml"), certified=True)
    assert item.author.email == "mario.rossi@pec.it" and item.author.name == "Mario Rossi"
    assert item.subject == "Reclamo formale - addebiti non autorizzati"
    assert "tre addebiti non autorizzati" in item.text
    assert item.external_id == "<opec210312.20260306112031.12345.01.1.1@pec.aruba.it>"
    [plain_reading] = email.parse(fixture_bytes("email_pec.eml"))
    assert plain_reading.author.email == "posta-certificata@pec.aruba.it"


def test_email_auto_reply_is_ignored_and_missing_id_is_derived():
    [auto] = email.parse(fixture_bytes("email_auto_reply.eml"))
    assert auto.ignore_reason
    raw = b"From: a@example.com\nSubject: hi\n\nbody"
    [first], [second] = email.parse(raw), email.parse(raw)
    assert first.external_id == second.external_id and first.external_id.endswith("@caretickets.invalid>")


@pytest.mark.parametrize("body", [b"", b"   ", b"no headers at all", b"Subject: x\n\nno sender", b"From: nobody\n\nx"])
def test_email_malformed(body):
    with pytest.raises(MalformedPayload):
        email.parse(body)
