"""Deliveries become messages in the right ticket, by the rule order of PROTOCOLS.md."""

import json

import pytest

from apps.social.models import InboundEvent
from apps.tickets import services as ticket_services
from apps.tickets.models import Identity, Message, Ticket, TicketEvent
from apps.triage.explain import render_explanation
from tests.factories import MessageFactory, TicketFactory
from tests.social.conftest import BRAND_X_ID, fixture_bytes

pytestmark = pytest.mark.django_db

CUSTOMER_TWEET = "1790000000000000101"
BRAND_REPLY = "1790000000000000150"


def tweet(*, id_str, text, user_id="2200000000000000201", screen_name="giulia_r", reply_to=None,
          followers=1520) -> bytes:
    payload = json.loads(fixture_bytes("x_tweet.json"))
    t = payload["tweet_create_events"][0]
    t.update(id_str=id_str, text=text, in_reply_to_status_id_str=reply_to, entities={"hashtags": []})
    t["user"].update(id_str=user_id, screen_name=screen_name, followers_count=followers)
    t.pop("id")
    return json.dumps(payload).encode()


def instagram_comment(*, comment_id, media_id, text, parent_id=None) -> bytes:
    payload = json.loads(fixture_bytes("instagram_comment.json"))
    value = payload["entry"][0]["changes"][0]["value"]
    value.update(id=comment_id, text=text, media={"id": media_id, "media_product_type": "FEED"})
    if parent_id:
        value["parent_id"] = parent_id
    return json.dumps(payload).encode()


def test_new_post_opens_a_triaged_ticket(deliver, world):
    deliver("x", "x_tweet.json")
    ticket = Ticket.objects.get()
    assert ticket.state == "new" and ticket.team == world.care
    assert ticket.subject.startswith("@BancaEsempio da tre giorni la carta è bloccata")
    assert ticket.language == "it" and ticket.intent == "support_request"
    assert set(ticket.triage_explanation) >= {"language", "intent", "sentiment", "priority", "routing"}
    assert ticket.conversation_key == "x:1790000000000000001"
    assert ticket.context["id"] == "1790000000000000001"
    message = ticket.messages.get()
    assert (message.direction, message.external_id, message.hashtags) == ("in", CUSTOMER_TWEET, ["bancachenoncera"])
    assert message.author_identity.handle == "giulia_r" and message.author_identity.followers_count == 1520
    assert ticket.customer.display_name == "Giulia Rossi" and ticket.customer.language == "it"
    kinds = list(TicketEvent.objects.filter(ticket=ticket).values_list("kind", flat=True))
    assert kinds == ["created", "triage"]
    event = InboundEvent.objects.get()
    assert event.status == "processed" and event.ticket == ticket and event.message == message
    assert ticket.reference in event.detail


def test_truncated_tweet_is_stored_in_full(deliver):
    deliver("x", "x_tweet_truncated.json")
    message = Message.objects.get()
    assert message.body.endswith("Voglio il rimborso. #mutuo #trasparenza")
    assert message.ticket.intent == "mis_selling"


def test_brand_echo_joins_the_ticket_it_answers_and_opens_none(deliver):
    deliver("x", "x_tweet.json")
    deliver("x", "x_brand_echo.json")
    ticket = Ticket.objects.get()
    outgoing = ticket.messages.get(direction="out")
    assert outgoing.external_id == BRAND_REPLY and not outgoing.is_automatic and outgoing.author_identity is None
    assert ticket.first_response_at == outgoing.created_at


def test_brand_post_answering_nothing_is_ignored_with_a_reason(deliver):
    deliver("x", "x_brand_echo.json")
    assert Ticket.objects.count() == 0 and Message.objects.count() == 0
    event = InboundEvent.objects.get()
    assert event.status == "ignored" and event.detail


def test_rule_1_reply_pointer(deliver):
    deliver("x", "x_tweet.json")
    deliver("x", "x_brand_echo.json")
    # A bystander answers the brand's reply: the pointer decides, not the author.
    deliver("x", tweet(id_str="1790000000000000160", text="@BancaEsempio a me è successo lo stesso",
                       user_id="9900000000000000001", screen_name="bystander", reply_to=BRAND_REPLY))
    ticket = Ticket.objects.get()
    assert ticket.messages.count() == 3
    assert ticket.messages.filter(author_identity__handle="bystander").exists()


def test_rule_2_same_conversation_same_author(deliver, channels, world):
    deliver("meta", instagram_comment(comment_id="c1", media_id="media-A", text="La carta non funziona da ieri"),
            slug="demo-instagram")
    first = Ticket.objects.get()
    for step in ("triage", "resolve"):
        first = ticket_services.ticket_transition(ticket=first, transition=step, actor=world.agent)
    deliver("meta", instagram_comment(comment_id="c2", media_id="media-B", text="Anche il bonifico è fermo"),
            slug="demo-instagram")
    second = Ticket.objects.exclude(pk=first.pk).get()
    ticket_services.ticket_transition(ticket=first, transition="reopen", actor=world.agent, reason="Not solved")
    # A new top-level comment under post A joins A's ticket, although B's ticket is newer.
    deliver("meta", instagram_comment(comment_id="c3", media_id="media-A", text="Ancora nessuna risposta"),
            slug="demo-instagram")
    assert Message.objects.get(external_id="c3").ticket == first
    assert second.messages.count() == 1


def test_rule_3_same_author_open_ticket_on_the_channel(deliver):
    deliver("x", "x_tweet.json")
    deliver("x", tweet(id_str="1790000000000000170", text="@BancaEsempio e adesso anche l'app non si apre"))
    ticket = Ticket.objects.get()
    assert ticket.messages.count() == 2


def test_rule_4_other_author_opens_a_new_ticket(deliver):
    deliver("x", "x_tweet.json")
    deliver("x", tweet(id_str="1790000000000000171", text="@BancaEsempio bonifico sparito",
                       user_id="9900000000000000002", screen_name="other"))
    assert Ticket.objects.count() == 2


def test_reply_into_a_resolved_ticket_reopens_it_with_an_audit_row(deliver, world):
    deliver("x", "x_tweet.json")
    deliver("x", "x_brand_echo.json")
    ticket = Ticket.objects.get()
    for step in ("triage", "resolve"):
        ticket = ticket_services.ticket_transition(ticket=ticket, transition=step, actor=world.agent)
    assert ticket.state == "resolved"
    deliver("x", tweet(id_str="1790000000000000180", text="@BancaEsempio no, la carta è di nuovo bloccata",
                       reply_to=BRAND_REPLY))
    ticket.refresh_from_db()
    assert ticket.state == "open" and ticket.resolved_at is None
    reopen = TicketEvent.objects.get(ticket=ticket, transition="customer_replied")
    assert (reopen.from_state, reopen.to_state, reopen.actor) == ("resolved", "open", None)
    assert Ticket.objects.count() == 1


def test_reply_while_waiting_on_the_customer_reopens(deliver, world):
    deliver("x", "x_tweet.json")
    ticket = Ticket.objects.get()
    ticket = ticket_services.ticket_transition(ticket=ticket, transition="triage", actor=world.agent)
    ticket_services.ticket_transition(ticket=ticket, transition="wait_for_customer", actor=world.agent)
    deliver("x", tweet(id_str="1790000000000000181", text="@BancaEsempio ecco il numero di pratica: 88123"))
    ticket.refresh_from_db()
    assert ticket.state == "open"


def test_reply_into_a_closed_ticket_opens_a_linked_one(deliver, world):
    deliver("x", "x_tweet.json")
    deliver("x", "x_brand_echo.json")
    old = Ticket.objects.get()
    for step in ("triage", "resolve", "close"):
        old = ticket_services.ticket_transition(ticket=old, transition=step, actor=world.agent)
    deliver("x", tweet(id_str="1790000000000000190", text="@BancaEsempio di nuovo bloccata!", reply_to=BRAND_REPLY))
    old.refresh_from_db()
    new = Ticket.objects.exclude(pk=old.pk).get()
    assert old.state == "closed" and new.state == "new"
    assert new.linked_from == old and new.customer == old.customer
    assert new.messages.get().external_id == "1790000000000000190"
    assert TicketEvent.objects.get(ticket=new, kind="created").data["linked_from"] == old.reference
    assert "follow-up" in InboundEvent.objects.get(event_key="1790000000000000190").detail


def test_reply_to_a_message_of_a_merged_ticket_goes_to_the_surviving_ticket(deliver, world, channels):
    target = world.ticket(state="open")
    source = world.ticket(state="closed", merged_into=target, customer=target.customer)
    MessageFactory(ticket=source, channel=channels.x, external_id="1790000000000000999")
    deliver("x", tweet(id_str="1790000000000000991", text="@BancaEsempio e quindi?", reply_to="1790000000000000999"))
    assert Message.objects.get(external_id="1790000000000000991").ticket == target


def test_later_message_raises_priority_with_an_audit_row(deliver):
    deliver("x", "x_tweet.json")
    ticket = Ticket.objects.get()
    assert ticket.priority == "normal"
    deliver("x", tweet(id_str="1790000000000000185", text="@BancaEsempio domani vado dal mio avvocato"))
    ticket.refresh_from_db()
    assert ticket.priority == "urgent"
    raised = TicketEvent.objects.filter(ticket=ticket, kind="triage").last()
    assert raised.data == {"priority": "urgent", "from_priority": "normal"}
    assert "avvocat" in raised.reason
    assert any("Raised from Normal to Urgent" in r for r in render_explanation(ticket.triage_explanation)["priority"])


def test_x_dm_and_its_echo_share_a_private_ticket(deliver):
    deliver("x", "x_dm.json")
    deliver("x", "x_dm_echo.json")
    ticket = Ticket.objects.get()
    assert [(m.direction, m.is_public) for m in ticket.messages.all()] == [("in", False), ("out", False)]
    assert ticket.conversation_key == "x-dm:2200000000000000201"


def test_dm_of_a_public_customer_joins_their_open_ticket(deliver):
    deliver("x", "x_tweet.json")
    deliver("x", "x_dm.json")
    assert Ticket.objects.count() == 1
    assert Ticket.objects.get().messages.count() == 2


def test_meta_comment_thread_edit_and_remove(deliver, world):
    deliver("meta", "meta_feed_comment.json")
    ticket = Ticket.objects.get()
    assert ticket.context["url"] == "https://www.facebook.com/bancaesempio/posts/880000000000001"
    assert ticket.conversation_key == "fb:104500000000001_880000000000001"
    deliver("meta", "meta_feed_reply.json")
    deliver("meta", "meta_page_reply_echo.json")
    assert ticket.messages.count() == 3 and ticket.messages.filter(direction="out").count() == 1

    deliver("meta", "meta_feed_edited.json")
    original = Message.objects.get(external_id="880000000000001_990000000000001")
    assert original.body.endswith("Ho già scritto al mio avvocato.") and original.edited_at is not None
    edit = TicketEvent.objects.get(ticket=ticket, kind="message")
    assert edit.data["edited"] and edit.data["previous_body"].endswith("da due mesi 😡")
    ticket.refresh_from_db()
    assert ticket.priority == "urgent"  # the edit added a legal threat

    deliver("meta", "meta_feed_remove.json")
    original.refresh_from_db()
    assert original.is_removed
    assert TicketEvent.objects.filter(ticket=ticket, kind="moderation", data__removed=True).exists()
    assert Message.objects.count() == 3


def meta_comment_edited(text: str, *, at: int) -> bytes:
    payload = json.loads(fixture_bytes("meta_feed_edited.json"))
    payload["entry"][0]["changes"][0]["value"].update(message=text, created_time=at)
    return json.dumps(payload).encode()


def test_edited_comment_is_checked_for_personal_data_again(deliver, client, world):
    deliver("meta", "meta_feed_comment.json")
    comment = Message.objects.get(external_id="880000000000001_990000000000001")
    assert comment.pii_flags == []
    deliver("meta", meta_comment_edited(
        "Aspetto il rimborso da due mesi, ecco il mio IBAN: IT60 X054 2811 1010 0000 0123 456", at=1772446001))
    comment.refresh_from_db()
    assert [f["kind"] for f in comment.pii_flags] == ["iban"]
    # The agent sees the exposed data on the ticket and is offered to hide the comment.
    client.force_login(world.agent)
    page = client.get(comment.ticket.get_absolute_url()).content.decode()
    assert "IT60 •••• 3456" in page and "Hide the comment" in page
    # The author took it out again: the flag goes too.
    deliver("meta", meta_comment_edited("Aspetto il rimborso da due mesi.", at=1772446002))
    comment.refresh_from_db()
    assert comment.pii_flags == []


def test_edit_of_an_unknown_comment_keeps_its_words_and_removal_of_one_is_ignored(deliver):
    deliver("meta", "meta_feed_remove.json")
    assert InboundEvent.objects.get().status == "ignored"
    deliver("meta", "meta_feed_edited.json")
    assert Message.objects.get().body.endswith("al mio avvocato.")
    deliver("meta", "meta_feed_comment.json")  # the late "add": the same comment, not a second message
    assert Message.objects.count() == 1


def test_meta_comment_without_from_uses_the_legacy_sender(deliver):
    deliver("meta", "meta_feed_legacy_sender.json")
    message = Message.objects.get()
    assert message.author_identity.external_id == "5500000000000002"
    assert message.ticket.customer.display_name == "Sara Gallo"


def test_messenger_dm_and_echo(deliver):
    deliver("meta", "messenger_dm.json")
    deliver("meta", "messenger_echo.json")
    ticket = Ticket.objects.get()
    assert [m.direction for m in ticket.messages.all()] == ["in", "out"]
    assert ticket.messages.first().author_identity.display_name.startswith("Facebook user")


def test_instagram_comment_reply_and_dm(deliver):
    deliver("meta", "instagram_comment.json", slug="demo-instagram")
    deliver("meta", "instagram_comment_flat.json", slug="demo-instagram")
    deliver("meta", "instagram_dm.json", slug="demo-instagram")
    ticket = Ticket.objects.get()
    assert ticket.channel.slug == "demo-instagram" and ticket.language == "nl"
    assert ticket.messages.count() == 3
    assert Identity.objects.get(channel_kind="instagram").handle == "anna.devries"


def test_linkedin_comment_context_and_admin_reply(deliver):
    deliver("linkedin", "linkedin_comment.json")
    ticket = Ticket.objects.get()
    assert ticket.context == {
        "id": "urn:li:share:7100000000000000001",
        "url": "https://www.linkedin.com/feed/update/urn:li:share:7100000000000000001/",
        "text": "Wat zijn de klantbehoeften in de zakelijke dienstverlening? Download onze visie.",
    }
    assert ticket.language == "nl"
    deliver("linkedin", "linkedin_admin_comment.json")
    assert ticket.messages.filter(direction="out").count() == 1
    assert Ticket.objects.count() == 1


def test_linkedin_legal_threat_in_message_text(deliver, world):
    deliver("linkedin", "linkedin_comment_message_text.json")
    ticket = Ticket.objects.get()
    assert ticket.priority == "urgent"
    assert ticket.triage_explanation["suggested_department"]["name"] == world.legal.name


def test_email_threads_by_in_reply_to_and_references(deliver, channels):
    deliver("email", "email_plain.eml")
    ticket = Ticket.objects.get()
    # What apps.replies records when it sends our answer: its Message-ID as external id.
    MessageFactory(ticket=ticket, channel=channels.email, direction="out",
                   external_id="<ct-reply-7f3a@bancaesempio.it>")
    deliver("email", "email_reply.eml")
    reply = Message.objects.get(external_id="<CAF3p1=def456@mail.example.it>")
    assert reply.ticket == ticket
    assert reply.references == ["<CAF3p1=abc123@mail.example.it>", "<ct-reply-7f3a@bancaesempio.it>"]
    assert reply.parent_external_id == "<ct-reply-7f3a@bancaesempio.it>"
    assert ticket.customer.email == "luca.verdi@example.it"


def test_email_subject_reference_joins_only_the_senders_own_ticket(deliver, world, channels):
    deliver("email", "email_plain.eml")
    own = Ticket.objects.get()
    for step in ("triage", "resolve"):
        own = ticket_services.ticket_transition(ticket=own, transition=step, actor=world.agent)
    body = fixture_bytes("email_subject_ref.eml").replace(b"CT-000000", own.reference.encode())
    deliver("email", body)
    own.refresh_from_db()
    assert own.messages.count() == 2 and own.state == "open"

    stranger = TicketFactory(channel=channels.email, team=world.care, state="open")
    spoof = body.replace(own.reference.encode(), stranger.reference.encode()).replace(b"ghi789", b"jkl000")
    deliver("email", spoof)
    assert stranger.messages.count() == 0


def test_certified_email_opens_a_ticket_from_the_original_sender(deliver):
    deliver("email", "email_pec.eml", slug="demo-pec")
    ticket = Ticket.objects.get()
    assert ticket.channel.slug == "demo-pec"
    assert ticket.customer.email == "mario.rossi@pec.it"
    assert ticket.subject == "Reclamo formale - addebiti non autorizzati"
    assert ticket.priority == "urgent"


def test_auto_reply_mail_is_ignored(deliver):
    deliver("email", "email_auto_reply.eml")
    assert InboundEvent.objects.get().status == "ignored"
    assert Ticket.objects.count() == 0


def test_author_reach_raises_priority(deliver):
    deliver("x", "x_quote.json")
    ticket = Ticket.objects.get()
    assert ticket.context["text"].startswith("Wij zetten klantbehoeften centraal")
    assert ticket.priority == "urgent"  # fraud keyword
    deliver("x", tweet(id_str="1790000000000000195", text="@BancaEsempio waarom duurt alles zo lang?",
                       user_id="7700000000000000001", screen_name="influencer", followers=120_000))
    loud = Ticket.objects.get(customer__identities__handle="influencer")
    assert loud.priority == "high"
    assert any("120,000 followers" in reason for reason in render_explanation(loud.triage_explanation)["priority"])


def test_hashtags_and_brand_account_are_kept(deliver, channels):
    assert channels.x.account_id == BRAND_X_ID
    deliver("x", "x_tweet_truncated.json")
    assert Message.objects.get().hashtags == ["mutuo", "trasparenza"]
