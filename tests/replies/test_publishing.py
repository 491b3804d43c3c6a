"""Publishing through the outbox against a fake platform on 127.0.0.1: request shapes, retries
with backoff, needs-attention on 4xx, exactly-once across timeouts, lost tasks and dead workers."""

import json
import smtplib
import socket
import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from apps.core.exceptions import ApplicationError
from apps.notifications.models import Notification
from apps.replies import publishers, services, tasks
from apps.replies.models import Outbox, PublishAttempt, Reply
from apps.social import services as social_services
from apps.social.adapters import x as x_adapter
from apps.tickets.models import Message, Ticket, TicketEvent

from .helpers import channel, customer_post

pytestmark = pytest.mark.django_db


class WorkerDied(BaseException):
    """Stands in for SIGKILL: not an Exception, so nothing in the task may swallow it."""


@pytest.fixture
def ticket(world, live_x):
    ticket = world.ticket(state="open", subject="Charged twice", language="en", channel=live_x)
    customer_post(ticket, external_id="t-100")
    return ticket


def send(ticket, user, body="We are sorry: the double charge is fixed now.", *, is_public=True, wait=False):
    """Create and send a reply that needs no approval; returns it and its outbox (task not run)."""
    reply = services.reply_send(ticket=ticket, author=user, body=body, is_public=is_public,
                                wait_for_customer=wait)
    return reply, Outbox.objects.get(reply=reply)


def attempts(outbox):
    return list(PublishAttempt.objects.filter(outbox=outbox).values_list("outcome", flat=True))


@pytest.fixture
def countdowns():
    """Record the countdown of every scheduled retry (eager mode runs them at once)."""
    seen = []
    original = tasks.outbox_publish.apply_async

    def spy(args=None, kwargs=None, **options):
        if options.get("countdown") is not None:
            seen.append(options["countdown"])
        return original(args, kwargs, **options)

    with mock.patch.object(tasks.outbox_publish, "apply_async", side_effect=spy):
        yield seen


# --- success ------------------------------------------------------------------------------


def test_x_reply_is_posted_once_as_x_expects(world, ticket, fake_platform,
                                             django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        reply, outbox = send(ticket, world.agent)
    (request,) = fake_platform.writes
    assert request.method == "POST" and request.path == "/2/tweets"
    assert request.body == {"text": "We are sorry: the double charge is fixed now.",
                            "reply": {"in_reply_to_tweet_id": "t-100"}}
    assert request.headers["Authorization"] == "Bearer s3cret-token"
    reply.refresh_from_db()
    outbox.refresh_from_db()
    assert reply.state == "published" and reply.external_id == "1000"
    assert outbox.status == "sent" and outbox.external_id == "1000"
    message = Message.objects.get(ticket=ticket, direction="out")
    assert (message.external_id, message.author_user, message.is_public) == ("1000", world.agent, True)
    assert message.parent_external_id == "t-100"
    assert reply.message == message
    # The response clock is met at publish time, not when the agent pressed send.
    ticket.refresh_from_db()
    assert ticket.first_response_at == message.created_at == reply.published_at
    (attempt,) = PublishAttempt.objects.filter(outbox=outbox)
    assert attempt.outcome == "succeeded" and attempt.http_status == 201
    assert "s3cret-token" not in json.dumps(attempt.request)
    # Running the task again is harmless.
    assert tasks.outbox_publish(outbox.pk) == "skipped"
    assert len(fake_platform.writes) == 1


def test_published_reply_moves_the_ticket_to_pending_customer_when_asked(
        world, ticket, fake_platform, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        send(ticket, world.agent, wait=True)
    ticket.refresh_from_db()
    assert ticket.state == "pending_customer"
    event = TicketEvent.objects.get(ticket=ticket, transition="wait_for_customer")
    assert event.actor == world.agent


def test_waiting_for_the_customer_works_on_a_new_ticket_too(
        world, live_x, fake_platform, django_capture_on_commit_callbacks):
    ticket = world.ticket(state="new", subject="Card blocked", language="en", channel=live_x)
    customer_post(ticket, external_id="t-200")
    with django_capture_on_commit_callbacks(execute=True):
        reply, _outbox = send(ticket, world.agent, wait=True)
    assert Reply.objects.get(pk=reply.pk).state == "published"
    ticket.refresh_from_db()
    assert ticket.state == "pending_customer"
    triage, wait = TicketEvent.objects.filter(
        ticket=ticket, transition__in=["triage", "wait_for_customer"]).order_by("pk")
    assert (triage.transition, triage.from_state, triage.to_state) == ("triage", "new", "open")
    assert (wait.transition, wait.to_state) == ("wait_for_customer", "pending_customer")
    assert triage.actor == wait.actor == world.agent
    assert not TicketEvent.objects.filter(ticket=ticket, transition="reply_wait_for_customer_skipped").exists()


def test_waiting_is_skipped_and_explained_when_the_ticket_is_escalated(
        world, live_x, fake_platform, django_capture_on_commit_callbacks):
    ticket = world.ticket(state="escalated", department=world.legal, channel=live_x)
    customer_post(ticket, external_id="t-300")
    reply = services.reply_send(ticket=ticket, author=world.agent, body="We are checking.",
                                is_public=True, wait_for_customer=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.reply_approve(reply=reply, reviewer=world.compliance_user)
    ticket.refresh_from_db()
    assert ticket.state == "escalated"
    assert Reply.objects.get(pk=reply.pk).state == "published"
    assert TicketEvent.objects.filter(ticket=ticket, transition="reply_wait_for_customer_skipped").exists()


def test_sandbox_channel_records_the_request_instead_of_sending(world, fake_platform,
                                                                django_capture_on_commit_callbacks):
    world.channel.api_base_url = fake_platform.url
    world.channel.secrets = {"access_token": "s3cret-token"}
    world.channel.save()
    assert world.channel.sandbox
    ticket = world.ticket(state="open")
    customer_post(ticket, external_id="t-9")
    with django_capture_on_commit_callbacks(execute=True):
        reply, outbox = send(ticket, world.agent, body="Thanks, fixed.")
    assert fake_platform.requests == []
    outbox.refresh_from_db()
    assert outbox.sandbox_request["method"] == "POST"
    assert outbox.sandbox_request["url"] == f"{fake_platform.url}/2/tweets"
    assert outbox.sandbox_request["json"] == {"text": "Thanks, fixed.",
                                              "reply": {"in_reply_to_tweet_id": "t-9"}}
    assert outbox.sandbox_request["headers"]["Authorization"] == "(secret, not shown)"
    assert "s3cret-token" not in json.dumps(outbox.sandbox_request)
    reply.refresh_from_db()
    assert reply.state == "published" and reply.external_id.startswith("sandbox-")


# --- every network's request shape --------------------------------------------------------


def _publish(ticket, user, body, *, is_public, capture):
    with capture(execute=True):
        reply, outbox = send(ticket, user, body, is_public=is_public)
    reply.refresh_from_db()
    return reply


def test_x_direct_message(world, ticket, fake_platform, django_capture_on_commit_callbacks):
    reply = _publish(ticket, world.agent, "Your case number is 12.", is_public=False,
                     capture=django_capture_on_commit_callbacks)
    participant = ticket.messages.first().author_identity.external_id
    (request,) = fake_platform.writes
    assert request.path == f"/2/dm_conversations/with/{participant}/messages"
    assert request.body == {"text": "Your case number is 12."}
    assert reply.state == "published" and reply.external_id == "1000"
    assert Message.objects.get(direction="out").is_public is False


def test_facebook_comment_reply_and_private_reply(world, fake_platform, django_capture_on_commit_callbacks):
    fb = channel("facebook", slug="fb", fake=fake_platform, account_id="page-1", team=world.care)
    ticket = world.ticket(state="open", channel=fb)
    customer_post(ticket, external_id="post1_c1")
    public = _publish(ticket, world.agent, "We replied in private.", is_public=True,
                      capture=django_capture_on_commit_callbacks)
    private = _publish(ticket, world.agent, "Here are the details.", is_public=False,
                       capture=django_capture_on_commit_callbacks)
    first, second = fake_platform.writes
    assert (first.path, first.body) == ("/post1_c1/comments", {"message": "We replied in private."})
    assert (second.path, second.body) == ("/page-1/messages", {
        "recipient": {"comment_id": "post1_c1"}, "message": {"text": "Here are the details."}})
    assert public.external_id == "1000" and private.external_id == "m_1001"
    assert private.delivery == "private_reply"


def test_instagram_comment_reply(world, fake_platform, django_capture_on_commit_callbacks):
    ig = channel("instagram", slug="ig", fake=fake_platform, team=world.care)
    ticket = world.ticket(state="open", channel=ig)
    customer_post(ticket, external_id="17890")
    reply = _publish(ticket, world.agent, "Thanks for telling us.", is_public=True,
                     capture=django_capture_on_commit_callbacks)
    (request,) = fake_platform.writes
    assert (request.path, request.body) == ("/17890/replies", {"message": "Thanks for telling us."})
    assert reply.state == "published"


def test_linkedin_comment(world, fake_platform, django_capture_on_commit_callbacks):
    li = channel("linkedin", slug="li", fake=fake_platform, account_id="urn:li:organization:42",
                 team=world.care)
    ticket = world.ticket(state="open", channel=li)
    comment = "urn:li:comment:(urn:li:activity:7,99)"
    customer_post(ticket, external_id=comment)
    reply = _publish(ticket, world.agent, "Sorry for the delay.", is_public=True,
                     capture=django_capture_on_commit_callbacks)
    (request,) = fake_platform.writes
    assert request.path == "/rest/socialActions/urn%3Ali%3Acomment%3A%28urn%3Ali%3Aactivity%3A7%2C99%29/comments"
    assert request.body == {"actor": "urn:li:organization:42", "object": "urn:li:activity:7",
                            "message": {"text": "Sorry for the delay."}, "parentComment": comment}
    assert request.headers["X-Restli-Protocol-Version"] == "2.0.0"
    assert request.headers["LinkedIn-Version"]
    assert reply.external_id == "urn:li:comment:(urn:li:activity:1,1000)"


def test_email_reply_threads_back(world, django_capture_on_commit_callbacks):
    mailbox = channel("email", slug="mail", account_id="care@bank.example", sandbox=False, team=world.care)
    ticket = world.ticket(state="open", channel=mailbox, subject="Missing refund")
    ticket.customer.email = "anna@example.org"
    ticket.customer.save()
    from tests.factories import IdentityFactory

    identity = IdentityFactory(customer=ticket.customer, channel_kind="email",
                               external_id="anna@example.org")
    customer_post(ticket, external_id="<abc@mail.example.org>", identity=identity,
                  references=["<root@mail.example.org>"], public=False)
    reply = _publish(ticket, world.agent, "Dear Anna, the transfer left today.", is_public=False,
                     capture=django_capture_on_commit_callbacks)
    (sent,) = mail.outbox
    key = str(Outbox.objects.get(reply=reply).idempotency_key)
    message = sent.message()
    assert sent.to == ["anna@example.org"] and sent.from_email == "care@bank.example"
    assert sent.subject == f"Re: Missing refund [{ticket.reference}]"
    assert message["Message-ID"] == f"<{key}@bank.example>"
    assert message["In-Reply-To"] == "<abc@mail.example.org>"
    assert message["References"] == "<root@mail.example.org> <abc@mail.example.org>"
    out = Message.objects.get(direction="out")
    assert out.external_id == f"<{key}@bank.example>"
    assert out.references == ["<root@mail.example.org>", "<abc@mail.example.org>"]
    assert reply.external_id == out.external_id


def test_email_answering_a_social_post_names_no_platform_id_as_a_message_id(
        world, fake_platform, django_capture_on_commit_callbacks):
    channel("email", slug="mail-li", account_id="care@bank.example", sandbox=False, team=world.care)
    li = channel("linkedin", slug="li2", fake=fake_platform, account_id="urn:li:organization:1",
                 team=world.care)
    ticket = world.ticket(state="open", channel=li, subject="Mortgage rate")
    ticket.customer.email = "sam@example.org"
    ticket.customer.save()
    customer_post(ticket, external_id="urn:li:comment:(urn:li:activity:9,77)",
                  references=["urn:li:activity:9"])
    reply = _publish(ticket, world.agent, "Dear Sam, we have written to you.", is_public=False,
                     capture=django_capture_on_commit_callbacks)
    assert reply.delivery == "email" and reply.state == "published"
    (sent,) = mail.outbox
    message = sent.message()
    assert message["In-Reply-To"] is None and message["References"] is None
    assert message["Message-ID"] == reply.external_id
    out = Message.objects.get(direction="out")
    assert out.references == []
    assert fake_platform.writes == []


@pytest.mark.parametrize(("error", "kind"), [
    (smtplib.SMTPResponseException(451, b"try later"), "retryable"),
    (smtplib.SMTPResponseException(550, b"no such user"), "permanent"),
    (smtplib.SMTPRecipientsRefused({"a@b": (550, b"no")}), "permanent"),
    (smtplib.SMTPServerDisconnected("gone"), "unknown"),
])
def test_smtp_errors_are_classified(world, error, kind):
    mailbox = channel("email", slug="mail2", account_id="care@bank.example", sandbox=False)
    job = publishers.PublishJob(text="x", delivery="email", idempotency_key="k", recipient="a@b.example",
                                subject="s")
    with mock.patch("django.core.mail.EmailMessage.send", side_effect=error), \
            pytest.raises(publishers.PublishError) as exc:
        publishers.EmailPublisher(mailbox).publish(job, timeout=1)
    assert exc.value.kind == kind


# --- retries, backoff, needs attention ----------------------------------------------------


def test_5xx_is_retried_with_exponential_backoff(world, ticket, fake_platform, countdowns,
                                                 django_capture_on_commit_callbacks):
    fake_platform.answer_next("500", "503", "500")
    with mock.patch("apps.replies.services.random.uniform", return_value=1.0), \
            django_capture_on_commit_callbacks(execute=True):
        reply, outbox = send(ticket, world.agent)
    assert len(fake_platform.writes) == 4
    assert len(fake_platform.posts) == 1
    assert countdowns == [30.0, 60.0, 120.0]
    # A 500 may hide a stored post: the attempt after it looks first (and finds nothing here).
    assert attempts(outbox) == ["unknown", "retryable", "unknown", "succeeded"]
    assert len([r for r in fake_platform.requests if r.method == "GET"]) == 2
    assert Reply.objects.get(pk=reply.pk).state == "published"


def test_500_after_the_post_was_stored_is_not_posted_again(world, ticket, fake_platform, fast_publishing,
                                                           django_capture_on_commit_callbacks):
    fake_platform.answer_next("post_then_500")
    with django_capture_on_commit_callbacks(execute=True):
        reply, outbox = send(ticket, world.agent)
    assert len(fake_platform.writes) == 1 and len(fake_platform.posts) == 1
    assert attempts(outbox) == ["unknown", "found"]
    reply.refresh_from_db()
    assert reply.state == "published" and reply.external_id == fake_platform.posts[0]["id"]


def test_retry_after_is_honoured(world, ticket, fake_platform, countdowns, settings,
                                 django_capture_on_commit_callbacks):
    settings.REPLIES_RETRY_BASE_SECONDS = 1
    fake_platform.answer_next("429")
    with django_capture_on_commit_callbacks(execute=True):
        send(ticket, world.agent)
    assert countdowns == [7.0]


def test_backoff_grows_and_is_capped():
    with mock.patch("apps.replies.services.random.uniform", return_value=1.0):
        assert [services.retry_delay(n) for n in (1, 2, 3, 4, 10, 20)] == [30, 60, 120, 240, 1800, 1800]


def test_gives_up_after_the_last_attempt_and_tells_the_author(world, ticket, fake_platform, fast_publishing,
                                                              django_capture_on_commit_callbacks):
    fake_platform.answer_next("503", "503", "503", "503")
    with django_capture_on_commit_callbacks(execute=True):
        reply, outbox = send(ticket, world.agent)
    reply.refresh_from_db()
    outbox.refresh_from_db()
    assert len(fake_platform.writes) == 4
    assert reply.state == "publish_failed" and outbox.status == "failed"
    assert outbox.last_error.startswith("Gave up after 4 attempts")
    assert Notification.objects.filter(user=world.agent, kind="reply_publish_failed").exists()
    assert not Message.objects.filter(direction="out").exists()
    assert Ticket.objects.get(pk=ticket.pk).first_response_at is None


def test_4xx_needs_attention_at_once_and_a_person_retries(world, ticket, fake_platform,
                                                          django_capture_on_commit_callbacks):
    fake_platform.answer_next("400")
    with django_capture_on_commit_callbacks(execute=True):
        reply, outbox = send(ticket, world.agent)
    reply.refresh_from_db()
    outbox.refresh_from_db()
    assert len(fake_platform.writes) == 1
    assert reply.state == "publish_failed" and outbox.status == "failed"
    assert outbox.last_error.startswith("Needs attention")
    assert "Invalid reply target" in outbox.last_error
    # A colleague on the team may retry (the author may be off shift); an outsider may not.
    with pytest.raises(ApplicationError):
        services.reply_retry(reply=reply, actor=world.outsider)
    with django_capture_on_commit_callbacks(execute=True):
        services.reply_retry(reply=reply, actor=world.agent2)
    assert Reply.objects.get(pk=reply.pk).state == "published"
    assert len(fake_platform.writes) == 2
    assert attempts(outbox) == ["permanent", "succeeded"]


def test_failed_reply_can_be_withdrawn(world, ticket, fake_platform, django_capture_on_commit_callbacks):
    fake_platform.answer_next("403")
    with django_capture_on_commit_callbacks(execute=True):
        reply, outbox = send(ticket, world.agent)
    services.reply_withdraw(reply=reply, actor=world.lead, reason="Answered by phone")
    assert Reply.objects.get(pk=reply.pk).state == "withdrawn"
    assert Outbox.objects.get(pk=outbox.pk).status == "cancelled"


# --- exactly once -------------------------------------------------------------------------


def test_timeout_after_posting_is_reconciled_not_posted_again(world, ticket, fake_platform, fast_publishing,
                                                              django_capture_on_commit_callbacks):
    fake_platform.answer_next("post_then_hang")
    with django_capture_on_commit_callbacks(execute=True):
        reply, outbox = send(ticket, world.agent)
    assert len(fake_platform.writes) == 1
    assert len(fake_platform.posts) == 1
    assert attempts(outbox) == ["unknown", "found"]
    reply.refresh_from_db()
    assert reply.state == "published" and reply.external_id == fake_platform.posts[0]["id"]
    (lookup,) = [r for r in fake_platform.requests if r.method == "GET"]
    assert lookup.path.startswith("/2/users/brand-1/tweets")


def test_timeout_before_posting_is_posted_after_the_lookup_finds_nothing(
        world, ticket, fake_platform, fast_publishing, django_capture_on_commit_callbacks):
    fake_platform.answer_next("hang")
    with django_capture_on_commit_callbacks(execute=True):
        reply, outbox = send(ticket, world.agent)
    assert len(fake_platform.writes) == 2 and len(fake_platform.posts) == 1
    assert attempts(outbox) == ["unknown", "succeeded"]
    assert PublishAttempt.objects.get(outbox=outbox, number=2).reconciling


def test_gateway_timeout_is_an_unknown_outcome(world, ticket, fake_platform, fast_publishing,
                                               django_capture_on_commit_callbacks):
    fake_platform.answer_next("504")
    with django_capture_on_commit_callbacks(execute=True):
        reply, outbox = send(ticket, world.agent)
    assert attempts(outbox) == ["unknown", "succeeded"]
    assert len(fake_platform.posts) == 1


def test_an_earlier_identical_reply_is_not_mistaken_for_this_one(
        world, ticket, fake_platform, fast_publishing, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        send(ticket, world.agent, body="Thank you!")
    fake_platform.answer_next("hang")
    with django_capture_on_commit_callbacks(execute=True):
        second, outbox = send(ticket, world.agent, body="Thank you!")
    assert len(fake_platform.posts) == 2
    second.refresh_from_db()
    assert second.external_id == fake_platform.posts[1]["id"]


def test_echo_of_our_own_post_ingested_before_the_retry_is_not_posted_again(
        world, ticket, fake_platform, fast_publishing, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        reply, outbox = send(ticket, world.agent)
    fake_platform.answer_next("post_then_hang")
    with django_capture_on_commit_callbacks(execute=False):  # the scheduled retry waits
        assert tasks.outbox_publish(outbox.pk) == "retry"
    (post,) = fake_platform.posts
    # X's webhook delivers our own tweet back; ingest records it as an outgoing message.
    echo = json.dumps({"for_user_id": "brand-1", "tweet_create_events": [{
        "id_str": post["id"], "text": post["text"], "in_reply_to_status_id_str": "t-100",
        "user": {"id_str": "brand-1", "screen_name": "brand"},
    }]}).encode()
    (item,) = x_adapter.parse(echo, account_id="brand-1")
    assert social_services.item_ingest(channel=ticket.channel, item=item).status == "processed"
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.outbox_publish(outbox.pk) == "found"
    assert len(fake_platform.writes) == 1 and len(fake_platform.posts) == 1
    assert attempts(outbox) == ["unknown", "found"]
    reply.refresh_from_db()
    assert reply.state == "published" and reply.external_id == post["id"]
    (message,) = Message.objects.filter(ticket=ticket, direction="out")
    assert reply.message == message and message.external_id == post["id"]
    assert message.author_user == world.agent


def test_worker_killed_after_the_network_call_never_posts_twice(
        world, ticket, fake_platform, fast_publishing, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        reply, outbox = send(ticket, world.agent)
    original = publishers.XPublisher.publish

    def publish_then_die(self, job, *, timeout):
        original(self, job, timeout=timeout)
        raise WorkerDied

    with mock.patch.object(publishers.XPublisher, "publish", publish_then_die), pytest.raises(WorkerDied):
        tasks.outbox_publish(outbox.pk)
    assert len(fake_platform.writes) == 1
    outbox.refresh_from_db()
    assert outbox.status == "in_flight" and attempts(outbox) == ["started"]
    assert Reply.objects.get(pk=reply.pk).state == "queued"

    # The broker redelivers at once: the lease is still held, nothing is posted.
    assert tasks.outbox_publish(outbox.pk) == "skipped"
    # The sweep leaves it alone while the lease runs.
    assert services.outbox_requeue_stale() == 0
    assert len(fake_platform.writes) == 1

    # The lease runs out: the sweep re-queues it, the run reconciles and finds the post.
    past = timezone.now() - timedelta(minutes=10)
    Outbox.objects.filter(pk=outbox.pk).update(lease_until=past, enqueued_at=past)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.outbox_requeue_stale() == 1
    assert len(fake_platform.writes) == 1
    assert attempts(outbox) == ["unknown", "found"]
    reply.refresh_from_db()
    assert reply.state == "published" and reply.external_id == fake_platform.posts[0]["id"]
    assert Message.objects.filter(direction="out").count() == 1


def test_worker_killed_before_the_network_call_posts_after_reconciling(
        world, ticket, fake_platform, fast_publishing, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        reply, outbox = send(ticket, world.agent)
    with mock.patch.object(publishers.XPublisher, "publish", side_effect=WorkerDied), \
            pytest.raises(WorkerDied):
        tasks.outbox_publish(outbox.pk)
    Outbox.objects.filter(pk=outbox.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert tasks.outbox_publish(outbox.pk) == "published"
    assert len(fake_platform.writes) == 1
    assert attempts(outbox) == ["unknown", "succeeded"]


def test_lost_task_is_requeued_by_the_sweep(world, ticket, fake_platform, settings,
                                            django_capture_on_commit_callbacks):
    settings.REPLIES_OUTBOX_STALE_MINUTES = 5
    with django_capture_on_commit_callbacks(execute=False):
        reply, outbox = send(ticket, world.agent)  # the task never reaches a worker
    assert services.outbox_requeue_stale() == 0  # not stale yet
    Outbox.objects.filter(pk=outbox.pk).update(enqueued_at=timezone.now() - timedelta(minutes=6))
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.outbox_requeue_stale() == 1
    assert Reply.objects.get(pk=reply.pk).state == "published"
    assert len(fake_platform.writes) == 1
    # Published rows are never requeued.
    Outbox.objects.filter(pk=outbox.pk).update(enqueued_at=timezone.now() - timedelta(hours=1))
    assert services.outbox_requeue_stale() == 0


def test_lost_retry_is_requeued(world, ticket, fake_platform, settings, django_capture_on_commit_callbacks):
    fake_platform.answer_next("500")
    original = tasks.outbox_publish.apply_async

    def lose_retries(args=None, kwargs=None, **options):
        if options.get("countdown"):
            return None  # the broker lost the scheduled retry
        return original(args, kwargs, **options)

    with mock.patch.object(tasks.outbox_publish, "apply_async", side_effect=lose_retries), \
            django_capture_on_commit_callbacks(execute=True):
        reply, outbox = send(ticket, world.agent)
    outbox.refresh_from_db()
    assert outbox.status == "retry_wait"
    long_ago = timezone.now() - timedelta(minutes=30)
    Outbox.objects.filter(pk=outbox.pk).update(next_attempt_at=long_ago, enqueued_at=long_ago)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.outbox_requeue_stale() == 1
    assert Reply.objects.get(pk=reply.pk).state == "published"


def test_unknown_outcome_without_a_lookup_is_parked_for_a_person(
        world, fake_platform, fast_publishing, django_capture_on_commit_callbacks):
    fb = channel("facebook", slug="fb2", fake=fake_platform, account_id="page-1", team=world.care)
    ticket = world.ticket(state="open", channel=fb)
    customer_post(ticket, external_id="post_c9")
    fake_platform.answer_next("post_then_hang")
    with django_capture_on_commit_callbacks(execute=True):
        reply, outbox = send(ticket, world.agent, "Details in private.", is_public=False)
    reply.refresh_from_db()
    outbox.refresh_from_db()
    assert len(fake_platform.writes) == 1
    assert reply.state == "publish_failed" and outbox.status == "unknown"
    assert outbox.last_error.startswith("Outcome unknown — check before retrying")
    assert attempts(outbox) == ["unknown", "unknown"]
    with pytest.raises(ApplicationError, match="Check there first"):
        services.reply_retry(reply=reply, actor=world.agent)
    # The person found it on Facebook: it is recorded as published, nothing is sent again.
    services.reply_confirm_published(reply=reply, actor=world.agent, external_id="m_found")
    reply.refresh_from_db()
    assert reply.state == "published" and reply.external_id == "m_found"
    assert Message.objects.get(direction="out").external_id == "m_found"
    assert len(fake_platform.writes) == 1


def test_person_confirms_not_posted_and_retries(world, fake_platform, fast_publishing,
                                                django_capture_on_commit_callbacks):
    fb = channel("facebook", slug="fb3", fake=fake_platform, account_id="page-1", team=world.care)
    ticket = world.ticket(state="open", channel=fb)
    customer_post(ticket, external_id="post_c10")
    fake_platform.answer_next("hang")
    with django_capture_on_commit_callbacks(execute=True):
        reply, outbox = send(ticket, world.agent, "Details in private.", is_public=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.reply_retry(reply=reply, actor=world.agent, checked_not_posted=True)
    assert Reply.objects.get(pk=reply.pk).state == "published"
    assert attempts(outbox) == ["not_posted", "not_posted", "succeeded"]
    assert TicketEvent.objects.get(transition="reply_retry").data["checked_not_posted"] is True


def test_lookup_failure_keeps_the_outcome_unknown(world, ticket, fake_platform, fast_publishing,
                                                  django_capture_on_commit_callbacks):
    fake_platform.answer_next("post_then_hang")
    fake_platform.lookup_mode = "500"
    with django_capture_on_commit_callbacks(execute=True):
        reply, outbox = send(ticket, world.agent)
    # Never posted twice: every later attempt only looked, and finally a person must check.
    assert len(fake_platform.writes) == 1
    outbox.refresh_from_db()
    assert outbox.status == "unknown"
    assert Reply.objects.get(pk=reply.pk).state == "publish_failed"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_on_one_row_post_once(world, live_x, fake_platform):
    ticket = world.ticket(state="open", channel=live_x)
    customer_post(ticket, external_id="t-500")
    fake_platform.write_delay = 0.5
    with mock.patch.object(tasks.outbox_publish, "delay"):  # we run the two workers ourselves
        reply, outbox = send(ticket, world.agent)
    results, errors = [], []
    barrier = threading.Barrier(2)

    def worker():
        try:
            barrier.wait()
            results.append(services.outbox_publish(outbox_id=outbox.pk))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors
    assert sorted(results) == ["published", "skipped"]
    assert len(fake_platform.writes) == 1
    assert Reply.objects.get(pk=reply.pk).state == "published"
    assert PublishAttempt.objects.filter(outbox=outbox).count() == 1


def test_email_after_an_unknown_outcome_is_held_for_a_person_not_sent_again(
        world, django_capture_on_commit_callbacks):
    mailbox = channel("email", slug="mail3", account_id="care@bank.example", sandbox=False, team=world.care)
    ticket = world.ticket(state="open", channel=mailbox, subject="Statement")
    ticket.customer.email = "piet@example.nl"
    ticket.customer.save()
    customer_post(ticket, external_id="<q1@example.nl>", public=False)
    sends = []
    original = mail.EmailMessage.send

    def flaky_send(self, fail_silently=False):
        sends.append(self.extra_headers["Message-ID"])
        original(self, fail_silently)  # the server got it, then the connection dropped
        raise smtplib.SMTPServerDisconnected("connection lost after DATA")

    with mock.patch.object(mail.EmailMessage, "send", flaky_send), \
            django_capture_on_commit_callbacks(execute=True):
        reply, outbox = send(ticket, world.agent, "Your statement is attached.", is_public=False)
    # Mail servers do not deduplicate by Message-ID: a resend would be a second mail to Piet.
    assert len(sends) == 1 and len(mail.outbox) == 1
    assert attempts(outbox) == ["unknown", "unknown"]
    reply.refresh_from_db()
    outbox.refresh_from_db()
    assert reply.state == "publish_failed" and outbox.status == "unknown"
    assert "sent mail" in outbox.last_error
    assert Notification.objects.filter(user=world.agent, kind="reply_publish_failed").exists()
    with pytest.raises(ApplicationError, match="Check there first"):
        services.reply_retry(reply=reply, actor=world.agent)
    # The agent finds it in the sent mail: recorded under its Message-ID, so answers thread back.
    services.reply_confirm_published(reply=reply, actor=world.agent)
    reply.refresh_from_db()
    assert reply.state == "published"
    assert reply.external_id == sends[0] == f"<{outbox.idempotency_key}@bank.example>"
    assert Message.objects.get(direction="out").external_id == sends[0]
    assert len(mail.outbox) == 1


def test_email_the_person_checked_was_not_sent_is_sent_again(world, django_capture_on_commit_callbacks):
    mailbox = channel("email", slug="mail4", account_id="care@bank.example", sandbox=False, team=world.care)
    ticket = world.ticket(state="open", channel=mailbox, subject="Statement")
    ticket.customer.email = "piet@example.nl"
    ticket.customer.save()
    customer_post(ticket, external_id="<q2@example.nl>", public=False)
    with mock.patch.object(mail.EmailMessage, "send", side_effect=smtplib.SMTPServerDisconnected("gone")), \
            django_capture_on_commit_callbacks(execute=True):
        reply, outbox = send(ticket, world.agent, "Your statement is attached.", is_public=False)
    assert Reply.objects.get(pk=reply.pk).state == "publish_failed" and mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        services.reply_retry(reply=reply, actor=world.agent, checked_not_posted=True)
    assert Reply.objects.get(pk=reply.pk).state == "published"
    (sent,) = mail.outbox
    assert sent.message()["Message-ID"] == f"<{outbox.idempotency_key}@bank.example>"


def test_mail_server_refusing_the_connection_is_retried(world, settings):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = channel("email", slug="mail5", account_id="care@bank.example", sandbox=False,
                      config={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_use_tls": False})
    job = publishers.PublishJob(text="x", delivery="email", idempotency_key="k", recipient="a@b.example",
                                subject="s")
    with pytest.raises(publishers.PublishError) as exc:
        publishers.EmailPublisher(mailbox).publish(job, timeout=1)
    assert exc.value.kind == "retryable"


# --- the SLA clocks -----------------------------------------------------------------------


def test_approval_deadline_comes_from_the_sla_and_publishing_meets_the_response_clock(
        world, fake_platform, django_capture_on_commit_callbacks):
    """Through the real ticket services, so the SLA app starts the ticket's clocks itself."""
    from apps.sla.models import SlaClock
    from apps.sla.services import approval_due
    from apps.tickets import services as ticket_services

    channel = world.channel
    channel.sandbox, channel.api_base_url, channel.account_id = False, fake_platform.url, fake_platform.account_id
    channel.save()
    customer, identity = ticket_services.customer_for_identity(
        channel_kind="x", external_id="77", handle="gio", display_name="Gio")
    ticket = ticket_services.ticket_create(channel=channel, customer=customer, team=world.care,
                                           subject="Mis-sold insurance")
    ticket_services.message_record(ticket=ticket, channel=channel, direction="in", created_at=timezone.now(),
                                   author_identity=identity, body="I never asked for it", external_id="t-900")
    ticket = ticket_services.ticket_transition(ticket=Ticket.objects.get(pk=ticket.pk), transition="triage",
                                               actor=world.agent)
    ticket = ticket_services.ticket_transition(ticket=ticket, transition="escalate", actor=world.agent,
                                               department=world.legal, reason="Mis-selling")
    clock = SlaClock.objects.get(ticket=ticket, kind="first_response")
    assert clock.state == "running"

    reply = services.reply_send(ticket=ticket, author=world.agent, body="We are looking into it.",
                                is_public=True)
    assert reply.state == "awaiting_approval"
    assert reply.approval_due is not None
    assert reply.approval_due == approval_due(ticket=ticket, submitted_at=reply.submitted_at)
    with django_capture_on_commit_callbacks(execute=True):
        services.reply_approve(reply=reply, reviewer=world.compliance_user, expected_version=reply.version)
    reply.refresh_from_db()
    assert reply.state == "published" and len(fake_platform.writes) == 1
    clock.refresh_from_db()
    assert clock.state == "met" and clock.ended_at == reply.published_at
    assert Ticket.objects.get(pk=ticket.pk).first_response_at == reply.published_at
