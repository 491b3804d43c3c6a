"""Every write to replies goes through these functions: one transaction each, audited twice
(a ReplyEvent for the reply's own history, a TicketEvent of kind "reply" on the ticket timeline).

Publishing follows the outbox pattern. Sending a reply that needs no approval, or approving
one, writes an Outbox row in the same transaction and queues `outbox_publish` on commit. The
task records a PublishAttempt and commits it *before* calling the network, so a worker that dies
mid-call leaves evidence behind; the next run finds it and reconciles instead of posting again.
"""

import logging
import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import ConcurrentTransition, can_proceed, has_transition_perm

from apps.accounts.models import Department, User
from apps.core.exceptions import ApplicationError, PermissionRefused, StaleObject
from apps.notifications.services import notification_create
from apps.tickets import policies as ticket_policies
from apps.tickets.models import Channel, Message, Note, Ticket, TicketEvent, TicketState
from apps.tickets.services import message_record, note_add, ticket_event_record, ticket_transition

from . import guard, policies, publishers, selectors
from .models import (
    ApprovalPolicy,
    Delivery,
    Outbox,
    PublishAttempt,
    Reply,
    ReplyEvent,
    ReplyState,
    ReplyVersion,
    SettingChange,
    WatchTerm,
)

logger = logging.getLogger(__name__)

MAX_BODY = selectors.MAX_BODY
MAX_REASON = 2000


class PersonalDataInPublicReply(ApplicationError):
    """A public reply that would expose personal data; the message names what, masked."""

    status_code = 422

    def __init__(self, findings: list[guard.Finding]):
        super().__init__(
            _("This public reply contains personal data: %(found)s. Remove it, or send the reply "
              "privately instead.") % {"found": guard.describe(findings)},
            extra={"findings": [f.as_dict() for f in findings]},
        )
        self.findings = findings


class PlatformError(ApplicationError):
    """The network refused or did not answer a moderation call made on a person's behalf."""

    status_code = 502


def _setting(name: str, default):
    return getattr(settings, name, default)


# --- helpers ------------------------------------------------------------------------------


def _clean_body(body: str) -> str:
    body = (body or "").replace("\r\n", "\n").strip()
    if not body:
        raise ApplicationError(_("The reply is empty."))
    if len(body) > MAX_BODY:
        raise ApplicationError(
            _("The reply is too long (%(max)s characters at most).") % {"max": MAX_BODY}
        )
    return body


def _lock(reply_id: int) -> Reply:
    return (
        Reply.objects.select_for_update(of=("self",))
        .select_related("ticket", "ticket__channel", "ticket__department", "ticket__customer",
                        "author", "channel", "in_reply_to", "in_reply_to__channel",
                        "in_reply_to__author_identity")
        .get(pk=reply_id)
    )


def _lock_outbox(reply_id: int) -> Outbox | None:
    # Lock order everywhere: the outbox row first, then its reply (as the publishing worker does).
    return Outbox.objects.select_for_update().filter(reply_id=reply_id).first()


def _audit(reply: Reply, transition: str, actor, *, from_state: str = "", reason: str = "",
           data: dict | None = None, at: datetime | None = None) -> None:
    at = at or timezone.now()
    payload = {"reply_id": reply.pk, **(data or {})}
    ReplyEvent.objects.create(
        reply=reply, actor=actor, transition=transition, from_state=from_state,
        to_state=reply.state, reason=reason, data=payload, created_at=at,
    )
    ticket_event_record(
        ticket=reply.ticket, kind=TicketEvent.Kind.REPLY, actor=actor, transition=f"reply_{transition}",
        from_state=from_state, to_state=reply.state, reason=reason, data=payload, at=at,
    )


def _transition(reply: Reply, name: str, actor, *, reason: str = "", data: dict | None = None,
                **kwargs) -> Reply:
    """Run one transition on a locked reply: check, change, save, audit."""
    method = getattr(reply, name)
    if not can_proceed(method):
        raise ApplicationError(
            _("That is not possible now: the reply is %(state)s.") % {"state": reply.get_state_display()}
        )
    if actor is not None and not has_transition_perm(method, actor):
        raise PermissionRefused(_("You are not allowed to do that with this reply."))
    from_state = reply.state
    method(**kwargs)
    reply.version += 1
    try:
        reply.save()
    except ConcurrentTransition as exc:
        raise StaleObject(_("This reply was changed by someone else. Reload and try again.")) from exc
    _audit(reply, name, actor, from_state=from_state, reason=reason, data=data)
    return reply


def _check_version(reply: Reply, expected_version: int | None) -> None:
    if expected_version is not None and reply.version != expected_version:
        raise StaleObject(_("This reply was changed by someone else. Reload and try again."))


def _add_version(reply: Reply, body: str, editor, role: str) -> ReplyVersion:
    last = reply.versions.order_by("-number").first()
    if last is not None and last.body == body and last.role == role:
        return last
    return ReplyVersion.objects.create(
        reply=reply, number=(last.number + 1) if last else 1, body=body, edited_by=editor, role=role
    )


def _answerable(ticket: Ticket, in_reply_to: Message | None) -> Message | None:
    if in_reply_to is None:
        return selectors.latest_inbound(ticket)
    if in_reply_to.ticket_id != ticket.pk or in_reply_to.direction != Message.Direction.IN:
        raise ApplicationError(_("Choose a message of this customer on this ticket to answer."))
    return in_reply_to


def _delivery(ticket: Ticket, in_reply_to: Message | None, is_public: bool) -> selectors.DeliveryOption:
    options = selectors.delivery_options(ticket, in_reply_to)
    option = options["public" if is_public else "private"]
    if option is None:
        if is_public:
            raise ApplicationError(
                _("A public reply is not possible here: there is no public post of the customer to "
                  "answer. Send it privately.")
            )
        raise ApplicationError(
            _("A private reply is not possible here: the network has no direct message for this "
              "post and we have no e-mail address for the customer.")
        )
    return option


def _approval_due(ticket: Ticket, submitted_at: datetime) -> datetime | None:
    """The approval-turnaround deadline from the SLA app, when it offers one."""
    try:
        from apps.sla.services import approval_due
    except ImportError:
        return None
    return approval_due(ticket=ticket, submitted_at=submitted_at)


def _notify_reviewers(reply: Reply) -> None:
    """Ask the reviewers who may approve this reply and open its ticket (never its author)."""
    for user in selectors.reply_reviewers(reply):
        notification_create(
            user=user, ticket=None, kind="approval_requested",
            url=reverse("replies:approvals"),
            title=_("%(author)s asks for approval of a reply on %(ref)s")
            % {"author": reply.author, "ref": reply.ticket.reference},
            body=reply.body[:300], dedupe_key=f"reply:{reply.pk}:review:{reply.version}:{user.pk}",
        )


# --- writing and sending ------------------------------------------------------------------


def reply_create(*, ticket: Ticket, author, body: str, is_public: bool,
                 wait_for_customer: bool = False, in_reply_to: Message | None = None) -> Reply:
    """Save a new draft reply; nothing is sent and nobody is asked yet."""
    body = _clean_body(body)
    with transaction.atomic():
        ticket = Ticket.objects.select_related("channel", "customer", "department").get(pk=ticket.pk)
        if not policies.can_compose(ticket, author):
            raise PermissionRefused(_("You cannot reply on this ticket."))
        in_reply_to = _answerable(ticket, in_reply_to)
        option = _delivery(ticket, in_reply_to, is_public)
        reply = Reply.objects.create(
            ticket=ticket, author=author, body=body, channel=option.channel,
            delivery=option.delivery, is_public=option.is_public, recipient=option.recipient,
            in_reply_to=in_reply_to, wait_for_customer=wait_for_customer,
        )
        _add_version(reply, body, author, ReplyVersion.Role.AUTHOR)
        _audit(reply, "create", author, data={"delivery": reply.delivery, "public": reply.is_public})
    return reply


def reply_update(*, reply: Reply, author, body: str, is_public: bool, wait_for_customer: bool,
                 in_reply_to: Message | None = None) -> Reply:
    """The author edits a draft, or revises a reply a reviewer sent back (it becomes a draft)."""
    body = _clean_body(body)
    with transaction.atomic():
        reply = _lock(reply.pk)
        if reply.author_id != author.pk:
            raise PermissionRefused(_("Only the author can change this reply."))
        if reply.state == ReplyState.REJECTED:
            _transition(reply, "revise", author)
        if reply.state != ReplyState.DRAFT:
            raise ApplicationError(
                _("The reply can no longer be changed: it is %(state)s.")
                % {"state": reply.get_state_display()}
            )
        if not policies.can_compose(reply.ticket, author):
            raise PermissionRefused(_("You cannot reply on this ticket."))
        target = _answerable(reply.ticket, in_reply_to or reply.in_reply_to)
        option = _delivery(reply.ticket, target, is_public)
        changed = body != reply.body
        reply.body = body
        reply.in_reply_to = target
        reply.channel = option.channel
        reply.delivery = option.delivery
        reply.is_public = option.is_public
        reply.recipient = option.recipient
        reply.wait_for_customer = wait_for_customer
        reply.version += 1
        reply.save()
        if changed:
            _add_version(reply, body, author, ReplyVersion.Role.AUTHOR)
    return reply


def reply_submit(*, reply: Reply, actor) -> Reply:
    """Send the author's reply on: to a reviewer when a policy asks for one, else to the outbox.

    A public reply with personal data in it is refused (PersonalDataInPublicReply), whatever
    the policies say.
    """
    with transaction.atomic():
        reply = _lock(reply.pk)
        if reply.author_id != actor.pk:
            raise PermissionRefused(_("Only the author can send this reply."))
        if reply.state == ReplyState.REJECTED:
            _transition(reply, "revise", actor)
        # The author as stored now (loaded with the lock), not the caller's copy: a training
        # mark set a moment ago by a lead must count.
        check = selectors.reply_evaluate(
            ticket=reply.ticket, author=reply.author, body=reply.body, is_public=reply.is_public
        )
        if check.findings:
            raise PersonalDataInPublicReply(check.findings)
        if check.too_long:
            raise ApplicationError(
                _("The reply is %(n)d characters long; %(network)s allows %(limit)d in a public reply.")
                % {"n": check.length, "network": reply.ticket.channel.get_kind_display(),
                   "limit": check.limit}
            )
        now = timezone.now()
        if check.needs_approval:
            due = _approval_due(reply.ticket, now)
            _transition(
                reply, "submit", actor, at=now, reasons=check.reasons, due=due,
                data={"policies": [r["policy"] for r in check.reasons],
                      "approval_due": due.isoformat() if due else None},
            )
            _notify_reviewers(reply)
        else:
            _transition(reply, "send", actor, at=now)
            _outbox_open(reply)
    return reply


def reply_send(*, ticket: Ticket, author, body: str, is_public: bool, wait_for_customer: bool = False,
               in_reply_to: Message | None = None, reply: Reply | None = None) -> Reply:
    """Write and send in one step (the composer's Send button); nothing is kept if refused."""
    with transaction.atomic():
        if reply is None:
            reply = reply_create(ticket=ticket, author=author, body=body, is_public=is_public,
                                 wait_for_customer=wait_for_customer, in_reply_to=in_reply_to)
        else:
            if reply.ticket_id != ticket.pk:
                raise ApplicationError(_("That draft belongs to another ticket."))
            reply = reply_update(reply=reply, author=author, body=body, is_public=is_public,
                                 wait_for_customer=wait_for_customer, in_reply_to=in_reply_to)
        return reply_submit(reply=reply, actor=author)


def reply_recall(*, reply: Reply, actor) -> Reply:
    """The author takes a reply back from the approval queue to change it."""
    with transaction.atomic():
        reply = _lock(reply.pk)
        return _transition(reply, "recall", actor)


def reply_withdraw(*, reply: Reply, actor, reason: str = "") -> Reply:
    """Give up on a reply that was never published (a draft, a rejected or a failed one)."""
    reason = (reason or "").strip()[:MAX_REASON]
    with transaction.atomic():
        outbox = _lock_outbox(reply.pk)
        reply = _lock(reply.pk)
        _transition(reply, "withdraw", actor, reason=reason)
        if outbox is not None and outbox.status != Outbox.Status.SENT:
            outbox.status = Outbox.Status.CANCELLED
            outbox.lease_until = None
            outbox.next_attempt_at = None
            outbox.save()
    return reply


# --- approval -----------------------------------------------------------------------------


def reply_approve(*, reply: Reply, reviewer, body: str | None = None,
                  expected_version: int | None = None) -> Reply:
    """A second person approves; with `body` they edit first (a new version the author sees).

    Approving queues the reply for publishing in the same transaction.
    """
    with transaction.atomic():
        reply = _lock(reply.pk)
        _check_version(reply, expected_version)
        if reply.author_id == reviewer.pk:
            raise PermissionRefused(_("Four eyes: you wrote this reply, another reviewer must approve it."))
        if not policies.can_see_for_review(reply.ticket, reviewer):
            raise PermissionRefused(_("Only compliance reviewers can approve replies."))
        data = {}
        if body is not None:
            body = _clean_body(body)
        if body is not None and body != reply.body:
            if reply.is_public:
                findings = selectors.scan_public_text(body)
                if findings:
                    raise PersonalDataInPublicReply(findings)
                limit = reply.ticket.channel.reply_limit
                if limit and len(body) > limit:
                    raise ApplicationError(
                        _("The edited reply is %(n)d characters long; the limit is %(limit)d.")
                        % {"n": len(body), "limit": limit}
                    )
            data = {"edited": True, "author_text": reply.body, "approved_text": body}
            _add_version(reply, body, reviewer, ReplyVersion.Role.REVIEWER)
            reply.body = body
        now = timezone.now()
        _transition(reply, "approve", reviewer, reviewer=reviewer, at=now, data=data)
        _transition(reply, "enqueue", None)
        _outbox_open(reply)
        if data:
            title = _("%(reviewer)s edited and approved your reply on %(ref)s: see what changed")
        else:
            title = _("%(reviewer)s approved your reply on %(ref)s")
        notification_create(
            user=reply.author, ticket=reply.ticket, kind="reply_approved",
            title=title % {"reviewer": reviewer, "ref": reply.ticket.reference},
            dedupe_key=f"reply:{reply.pk}:approved",
        )
    return reply


def reply_reject(*, reply: Reply, reviewer, reason: str, expected_version: int | None = None) -> Reply:
    """Send a reply back to its author with the reason; they revise and submit again."""
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(_("Tell the author why the reply is rejected."))
    if len(reason) > MAX_REASON:
        raise ApplicationError(_("The reason is too long."))
    with transaction.atomic():
        reply = _lock(reply.pk)
        _check_version(reply, expected_version)
        if reply.author_id == reviewer.pk:
            raise PermissionRefused(_("Four eyes: you wrote this reply, another reviewer must decide."))
        if not policies.can_see_for_review(reply.ticket, reviewer):
            raise PermissionRefused(_("Only compliance reviewers can reject replies."))
        _transition(reply, "reject", reviewer, reason=reason, reviewer=reviewer, at=timezone.now(),
                    rejection_reason=reason)
        notification_create(
            user=reply.author, ticket=reply.ticket, kind="reply_rejected", body=reason,
            title=_("%(reviewer)s sent your reply on %(ref)s back") % {
                "reviewer": reviewer, "ref": reply.ticket.reference},
            dedupe_key=f"reply:{reply.pk}:rejected:{reply.version}",
        )
    return reply


# --- failures a person handles ------------------------------------------------------------


def reply_retry(*, reply: Reply, actor, checked_not_posted: bool = False) -> Reply:
    """Queue a reply that failed to publish once more, with a fresh budget of attempts.

    When the outcome of the last attempt is unknown, the person must first have checked on the
    network that it was not posted (`checked_not_posted`); otherwise it might appear twice.
    """
    with transaction.atomic():
        outbox = _lock_outbox(reply.pk)
        reply = _lock(reply.pk)
        if outbox is None:
            raise ApplicationError(_("This reply was never queued for publishing."))
        data = {"previous_error": outbox.last_error}
        if outbox.status == Outbox.Status.UNKNOWN:
            if not checked_not_posted:
                raise ApplicationError(
                    _("Nobody knows whether the last attempt reached %(network)s. Check there first, "
                      "then confirm that it was not posted, or mark it as published.")
                    % {"network": reply.channel.get_kind_display()}
                )
            outbox.publish_attempts.filter(outcome=PublishAttempt.Outcome.UNKNOWN).update(
                outcome=PublishAttempt.Outcome.NOT_POSTED,
            )
            data["checked_not_posted"] = True
        _transition(reply, "retry", actor, data=data)
        now = timezone.now()
        outbox.status = Outbox.Status.PENDING
        outbox.attempts = 0
        outbox.next_attempt_at = None
        outbox.lease_until = None
        outbox.last_error = ""
        outbox.enqueued_at = now
        outbox.save()
        _enqueue_publish(outbox.pk)
    return reply


def reply_confirm_published(*, reply: Reply, actor, external_id: str = "") -> Reply:
    """A person found the reply on the network (or posted it by hand): record it as published."""
    external_id = (external_id or "").strip()[:255]
    with transaction.atomic():
        outbox = _lock_outbox(reply.pk)
        reply = _lock(reply.pk)
        if outbox is None:
            raise ApplicationError(_("This reply was never queued for publishing."))
        if not external_id and reply.delivery == Delivery.EMAIL:
            # The mail went out under the Message-ID derived from the key: answers thread to it.
            external_id = publishers.EmailPublisher(reply.channel).message_id_for(str(outbox.idempotency_key))
        now = timezone.now()
        _transition(reply, "confirm_published", actor, external_id=external_id, at=now,
                    data={"external_id": external_id, "previous_error": outbox.last_error})
        outbox.status = Outbox.Status.SENT
        outbox.external_id = external_id
        outbox.sent_at = now
        outbox.lease_until = None
        outbox.save()
        _after_publish(reply, external_id=external_id, at=now, actor=actor)
    return reply


# --- the outbox ---------------------------------------------------------------------------


def _enqueue_publish(outbox_id: int, *, countdown: float | None = None) -> None:
    from .tasks import outbox_publish

    if countdown:
        outbox_publish.apply_async_on_commit((outbox_id,), countdown=countdown)
    else:
        outbox_publish.delay_on_commit(outbox_id)


def _outbox_open(reply: Reply) -> Outbox:
    """Write the promise to publish in the caller's transaction; the task starts after commit."""
    now = timezone.now()
    outbox, created = Outbox.objects.get_or_create(reply=reply, defaults={"enqueued_at": now})
    if not created:
        outbox.status = Outbox.Status.PENDING
        outbox.attempts = 0
        outbox.next_attempt_at = None
        outbox.lease_until = None
        outbox.enqueued_at = now
        outbox.save()
    _enqueue_publish(outbox.pk)
    return outbox


def retry_delay(attempt: int) -> float:
    """Exponential backoff with jitter: about 30 s, 1 min, 2 min, 4 min… capped at 30 min."""
    base = float(_setting("REPLIES_RETRY_BASE_SECONDS", 30))
    cap = float(_setting("REPLIES_RETRY_MAX_SECONDS", 1800))
    return min(cap, base * 2 ** max(attempt - 1, 0)) * random.uniform(0.8, 1.2)


def _lease_seconds() -> float:
    # Longer than the slowest possible network call, so a live worker never loses its lease.
    timeout = publishers.publish_timeout()
    return max(float(_setting("REPLIES_PUBLISH_LEASE_SECONDS", 120)), 4 * timeout + 10)


def _email_subject(ticket: Ticket) -> str:
    subject = ticket.subject.strip()
    if not subject.lower().startswith(("re:", "r:", "aw:")):
        subject = f"Re: {subject}"
    if f"[{ticket.reference}]" not in subject:
        subject = f"{subject} [{ticket.reference}]"
    return subject[:250]


def _not_ours(reply: Reply, outbox: Outbox) -> frozenset:
    """Ids of our posts on this ticket that cannot be this reply's, so a lookup skips them.

    Those are the posts of other replies, and posts recorded before this reply's first attempt
    (an agent answering natively on the network). The webhook echo of this reply's own post,
    recorded by ingest while its outcome was unknown, is neither: the lookup must find it.
    """
    first_attempt = (
        outbox.publish_attempts.order_by("number").values_list("started_at", flat=True).first()
    )
    not_before = Q(received_at__lt=first_attempt) if first_attempt else Q()
    return frozenset(
        Message.objects.filter(channel=reply.channel, direction=Message.Direction.OUT,
                               external_id__isnull=False, ticket=reply.ticket)
        .filter((Q(reply__isnull=False) & ~Q(reply=reply)) | not_before)
        .values_list("external_id", flat=True)
    )


MAIL_KINDS = frozenset({Channel.Kind.EMAIL, Channel.Kind.CERTIFIED_EMAIL})


def _mail_thread(reply: Reply) -> tuple[str, list[str]]:
    """The Message-ID an e-mail reply answers and its References chain, when it answers a mail.

    An e-mail answering a tweet or a comment (a network without private messages) starts a new
    mail thread: a platform's post id is no Message-ID.
    """
    target = reply.in_reply_to
    if target is None or not target.external_id or target.channel.kind not in MAIL_KINDS:
        return "", []
    return target.external_id, [*(str(r) for r in target.references or [] if r), target.external_id]


def _publish_job(reply: Reply, outbox: Outbox) -> publishers.PublishJob:
    target = reply.in_reply_to
    target_id = (target.external_id or "") if target else ""
    references: list[str] = []
    if reply.delivery == Delivery.EMAIL:
        target_id, references = _mail_thread(reply)
    return publishers.PublishJob(
        text=reply.body,
        delivery=reply.delivery,
        idempotency_key=str(outbox.idempotency_key),
        target_id=target_id,
        target_parent_id=(target.conversation_id or reply.ticket.conversation_key) if target else "",
        recipient=reply.recipient,
        subject=_email_subject(reply.ticket),
        references=tuple(references),
        known_ids=_not_ours(reply, outbox),
    )


class _Claim:
    def __init__(self, *, outbox: Outbox, attempt: PublishAttempt, job, reconcile: bool):
        self.outbox_id = outbox.pk
        self.attempt_id = attempt.pk
        self.channel = outbox.reply.channel
        self.job = job
        self.reconcile = reconcile


def _outbox_claim(outbox_id: int) -> _Claim | None:
    """Take the row for this worker and commit an attempt before any network call."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        outbox = (
            Outbox.objects.select_for_update(of=("self",))
            .select_related("reply", "reply__channel", "reply__ticket", "reply__in_reply_to",
                            "reply__in_reply_to__channel")
            .filter(pk=outbox_id).first()
        )
        if outbox is None or outbox.status not in Outbox.OPEN_STATUSES:
            return None
        if outbox.reply.state != ReplyState.QUEUED:
            return None
        if outbox.status == Outbox.Status.IN_FLIGHT and outbox.lease_until and outbox.lease_until > now:
            return None  # another worker is publishing it right now
        previous = outbox.publish_attempts.order_by("-number").first()
        reconcile = False
        if previous is not None and previous.outcome in (PublishAttempt.Outcome.STARTED,
                                                         PublishAttempt.Outcome.UNKNOWN):
            if previous.outcome == PublishAttempt.Outcome.STARTED:
                previous.outcome = PublishAttempt.Outcome.UNKNOWN
                previous.finished_at = now
                previous.error = _("The worker stopped before it recorded what the network answered.")
                previous.save(update_fields=["outcome", "finished_at", "error"])
            # Never blindly again: look the reply up first, or park it for a person.
            reconcile = not outbox.reply.channel.sandbox
        attempt = PublishAttempt.objects.create(
            outbox=outbox, number=(previous.number + 1) if previous else 1, started_at=now,
            reconciling=reconcile, sandbox=outbox.reply.channel.sandbox,
        )
        outbox.status = Outbox.Status.IN_FLIGHT
        outbox.lease_until = now + timedelta(seconds=_lease_seconds())
        outbox.attempts += 1
        outbox.save(update_fields=["status", "lease_until", "attempts", "updated_at"])
        job = _publish_job(outbox.reply, outbox)
    return _Claim(outbox=outbox, attempt=attempt, job=job, reconcile=reconcile)


def _sandbox_result(claim: _Claim) -> publishers.PublishResult:
    publisher = publishers.publisher_for(claim.channel)
    request = publisher.build(claim.job).recordable()
    if isinstance(publisher, publishers.EmailPublisher):
        external_id = publisher.message_id(claim.job)
    else:
        external_id = f"sandbox-{claim.job.idempotency_key.replace('-', '')[:20]}"
    return publishers.PublishResult(external_id=external_id, request=request,
                                    response={"sandbox": True})


def outbox_publish(*, outbox_id: int) -> str:
    """Publish one outbox row at most once; returns what happened, for logs and tests.

    1. claim: lock the row, commit a `started` attempt (and a lease) before touching the network;
    2. if an earlier attempt's outcome is unknown, look the reply up on the network first, and
       park it for a person when the network offers no lookup;
    3. post (or, on a sandbox channel, record the exact request instead);
    4. record the outcome: published, retry later with backoff, or needs attention.
    """
    claim = _outbox_claim(outbox_id)
    if claim is None:
        return "skipped"
    if claim.channel.sandbox:
        return _outbox_record_success(claim, _sandbox_result(claim), found=False)
    try:
        publisher = publishers.publisher_for(claim.channel)
    except publishers.Unsupported as exc:
        return _outbox_record_failure(claim, publishers.PublishError(str(exc), kind="permanent"))
    timeout = publishers.publish_timeout()
    if claim.reconcile:
        try:
            found = publisher.find_published(claim.job, timeout=timeout)
        except publishers.LookupUnavailable as exc:
            return _outbox_park_unknown(claim, str(exc))
        except publishers.PublishError as exc:
            # The lookup itself failed: still unknown, look again after a pause.
            exc.kind = publishers.PublishError.UNKNOWN
            return _outbox_record_failure(claim, exc)
        if found:
            request = publisher.build(claim.job).recordable()
            return _outbox_record_success(
                claim, publishers.PublishResult(external_id=found, request=request,
                                                response={"found": found}),
                found=True,
            )
    try:
        result = publisher.publish(claim.job, timeout=timeout)
    except publishers.PublishError as exc:
        return _outbox_record_failure(claim, exc)
    except publishers.Unsupported as exc:
        return _outbox_record_failure(claim, publishers.PublishError(str(exc), kind="permanent"))
    return _outbox_record_success(claim, result, found=False)


def _load_claimed(claim: _Claim) -> tuple[Outbox, PublishAttempt] | None:
    outbox = Outbox.objects.select_for_update(of=("self",)).select_related("reply").get(pk=claim.outbox_id)
    attempt = PublishAttempt.objects.select_for_update().get(pk=claim.attempt_id)
    if attempt.outcome != PublishAttempt.Outcome.STARTED or outbox.status != Outbox.Status.IN_FLIGHT:
        logger.warning("outbox %s: attempt %s was settled elsewhere", outbox.pk, attempt.pk)
        return None
    return outbox, attempt


def _outbox_record_success(claim: _Claim, result: publishers.PublishResult, *, found: bool) -> str:
    now = timezone.now()
    with transaction.atomic(durable=True):
        loaded = _load_claimed(claim)
        if loaded is None:
            return "skipped"
        outbox, attempt = loaded
        attempt.outcome = PublishAttempt.Outcome.FOUND if found else PublishAttempt.Outcome.SUCCEEDED
        attempt.finished_at = now
        attempt.http_status = result.http_status
        attempt.request = result.request
        attempt.response = result.response
        attempt.save()
        outbox.status = Outbox.Status.SENT
        outbox.external_id = result.external_id
        outbox.sent_at = now
        outbox.lease_until = None
        outbox.next_attempt_at = None
        outbox.last_error = ""
        if attempt.sandbox:
            outbox.sandbox_request = result.request
        outbox.save()
        reply = _lock(outbox.reply_id)
        _transition(reply, "publish", None, external_id=result.external_id, at=now, data={
            "external_id": result.external_id, "sandbox": attempt.sandbox, "found_on_network": found,
            "attempt": attempt.number,
        })
        _after_publish(reply, external_id=result.external_id, at=now, actor=None,
                       sandbox=attempt.sandbox)
    return "found" if found else ("sandbox" if attempt.sandbox else "published")


def _after_publish(reply: Reply, *, external_id: str, at: datetime, actor, sandbox: bool = False) -> None:
    """The published reply joins the thread as an outbound message; the ticket moves on if asked."""
    existing = None
    if external_id:
        # The network may already have echoed our own post back through the webhook.
        existing = Message.objects.filter(channel=reply.channel, external_id=external_id).first()
    if existing is None:
        target = reply.in_reply_to
        fields = {}
        if reply.delivery == Delivery.EMAIL:
            fields["subject"] = _email_subject(reply.ticket)
            fields["references"] = _mail_thread(reply)[1]
        message = message_record(
            ticket=reply.ticket, channel=reply.channel, direction=Message.Direction.OUT,
            body=reply.body, created_at=at, is_public=reply.is_public, author_user=reply.author,
            external_id=external_id or None,
            parent_external_id=(target.external_id or "") if target else "",
            conversation_id=(target.conversation_id or "") if target else "",
            raw={"reply_id": reply.pk, "sandbox": sandbox, "delivery": reply.delivery},
            **fields,
        )
    else:
        message = existing
        if message.author_user_id is None:
            # The echo names no person; the reply it turned out to be does.
            Message.objects.filter(pk=message.pk).update(author_user=reply.author)
            message.author_user = reply.author
    Reply.objects.filter(pk=reply.pk).update(message=message)
    reply.message = message
    if reply.wait_for_customer:
        _ticket_wait_for_customer(reply)


def _ticket_wait_for_customer(reply: Reply) -> None:
    """Move the ticket to pending customer as the author asked; a new ticket is triaged first."""
    ticket = Ticket.objects.get(pk=reply.ticket_id)
    if ticket.state not in (TicketState.NEW, TicketState.OPEN):
        _audit(reply, "wait_for_customer_skipped", None, from_state=reply.state,
               reason=_("The ticket was %(state)s, so it was not moved to pending customer.")
               % {"state": ticket.get_state_display()})
        return
    try:
        with transaction.atomic():
            if ticket.state == TicketState.NEW:
                # Answering a new ticket is working it; the workflow opens it by triage.
                ticket = ticket_transition(
                    ticket=ticket, transition="triage", actor=reply.author,
                    reason=_("Answered before triage; opened to wait for the customer."),
                    data={"reply_id": reply.pk},
                )
            ticket_transition(
                ticket=ticket, transition="wait_for_customer", actor=reply.author,
                reason=_("Reply published; waiting for the customer's answer."),
                data={"reply_id": reply.pk},
            )
    except ApplicationError as exc:
        _audit(reply, "wait_for_customer_skipped", None, from_state=reply.state,
               reason=_("The ticket could not be moved to pending customer: %(err)s") % {"err": exc.message})


def _outbox_record_failure(claim: _Claim, error: publishers.PublishError) -> str:
    now = timezone.now()
    max_attempts = int(_setting("REPLIES_PUBLISH_MAX_ATTEMPTS", 6))
    with transaction.atomic(durable=True):
        loaded = _load_claimed(claim)
        if loaded is None:
            return "skipped"
        outbox, attempt = loaded
        outcome = {
            publishers.PublishError.RETRYABLE: PublishAttempt.Outcome.RETRYABLE,
            publishers.PublishError.UNKNOWN: PublishAttempt.Outcome.UNKNOWN,
        }.get(error.kind, PublishAttempt.Outcome.PERMANENT)
        attempt.outcome = outcome
        attempt.finished_at = now
        attempt.http_status = error.http_status
        attempt.error = error.message[:4000]
        attempt.response = error.response
        attempt.save()
        outbox.lease_until = None
        if outcome == PublishAttempt.Outcome.PERMANENT:
            outbox.status = Outbox.Status.FAILED
            outbox.last_error = _("Needs attention: %(err)s") % {"err": error.message}
            outbox.save()
            _outbox_give_up(outbox, attempt)
            return "failed"
        if outbox.attempts >= max_attempts:
            if outcome == PublishAttempt.Outcome.UNKNOWN:
                outbox.status = Outbox.Status.UNKNOWN
                outbox.last_error = _(
                    "Outcome unknown — check on the network before retrying. Last error: %(err)s"
                ) % {"err": error.message}
            else:
                outbox.status = Outbox.Status.FAILED
                outbox.last_error = _("Gave up after %(n)d attempts: %(err)s") % {
                    "n": outbox.attempts, "err": error.message}
            outbox.save()
            _outbox_give_up(outbox, attempt)
            return "gave_up"
        delay = max(retry_delay(outbox.attempts), float(error.retry_after or 0))
        outbox.status = Outbox.Status.RETRY_WAIT
        outbox.next_attempt_at = now + timedelta(seconds=delay)
        outbox.enqueued_at = now
        outbox.last_error = error.message
        outbox.save()
        _enqueue_publish(outbox.pk, countdown=delay)
    return "retry"


def _outbox_park_unknown(claim: _Claim, why: str) -> str:
    with transaction.atomic(durable=True):
        loaded = _load_claimed(claim)
        if loaded is None:
            return "skipped"
        outbox, attempt = loaded
        attempt.outcome = PublishAttempt.Outcome.UNKNOWN
        attempt.finished_at = timezone.now()
        attempt.error = why
        attempt.save()
        outbox.status = Outbox.Status.UNKNOWN
        outbox.lease_until = None
        outbox.last_error = _(
            "Outcome unknown — check before retrying: an earlier attempt may have been posted and "
            "%(why)s"
        ) % {"why": why}
        outbox.save()
        _outbox_give_up(outbox, attempt)
    return "parked"


def _outbox_give_up(outbox: Outbox, attempt: PublishAttempt) -> None:
    reply = _lock(outbox.reply_id)
    _transition(reply, "fail", None, reason=outbox.last_error,
                data={"attempt": attempt.number, "outbox_status": outbox.status})
    notification_create(
        user=reply.author, ticket=reply.ticket, kind="reply_publish_failed", body=outbox.last_error,
        title=_("Your reply on %(ref)s was not published: it needs attention")
        % {"ref": reply.ticket.reference},
        dedupe_key=f"reply:{reply.pk}:failed:{attempt.pk}",
    )


def outbox_requeue_stale() -> int:
    """Hand rows whose task was lost back to the broker (run every minute by Celery beat).

    Lost means: still pending, or past its retry time, N minutes after its task was queued; or
    in flight with an expired lease (the worker died: the next run reconciles).
    """
    now = timezone.now()
    stale = now - timedelta(minutes=float(_setting("REPLIES_OUTBOX_STALE_MINUTES", 5)))
    candidates = Outbox.objects.filter(
        Q(status=Outbox.Status.PENDING, enqueued_at__lt=stale)
        | Q(status=Outbox.Status.RETRY_WAIT, next_attempt_at__lt=stale, enqueued_at__lt=stale)
        | Q(status=Outbox.Status.IN_FLIGHT, lease_until__lt=now, enqueued_at__lt=stale)
    ).values_list("pk", flat=True)
    requeued = 0
    for pk in list(candidates[:500]):
        with transaction.atomic():
            # Conditional update: two beats (or a beat racing a worker) requeue a row once.
            if Outbox.objects.filter(pk=pk, enqueued_at__lt=stale).update(enqueued_at=now):
                _enqueue_publish(pk)
                requeued += 1
    if requeued:
        logger.info("re-queued %d outbox rows whose publish task was lost", requeued)
    return requeued


# --- personal data in customers' public posts ---------------------------------------------


def message_flag_personal_data(*, message: Message, at=None) -> None:
    """Hook for "message_edited": flag an inbound public post that exposes personal data, and
    drop the flag once an edit took the data out again."""
    messages_flag_personal_data(messages=[message])


def messages_flag_personal_data(*, messages: list[Message]) -> None:
    """Hook for "messages_recorded": the same for messages stored together (one UPDATE for
    all those whose flags change; most have none)."""
    changed = []
    for message in messages:
        if message.direction != Message.Direction.IN or not message.is_public:
            continue
        flags = [f.as_dict() for f in selectors.scan_public_text(message.body)]
        if flags != (message.pii_flags or []):
            message.pii_flags = flags
            changed.append(message)
    if changed:
        Message.objects.bulk_update(changed, ["pii_flags"])


def message_hide(*, message: Message, actor) -> Message:
    """Hide a customer's public comment on the network (it stays in our thread), audited."""
    ticket = message.ticket
    if not policies.can_moderate(ticket, actor):
        raise PermissionRefused(_("You cannot moderate this ticket's messages."))
    if message.direction != Message.Direction.IN or not message.is_public:
        raise ApplicationError(_("Only a customer's public comment can be hidden."))
    if message.is_hidden:
        raise ApplicationError(_("This comment is already hidden."))
    if not message.external_id:
        raise ApplicationError(_("This comment has no id on the network, so it cannot be hidden there."))
    channel = message.channel
    try:
        publisher = publishers.publisher_for(channel)
        request = publisher.hide_request(message.external_id)
    except publishers.Unsupported as exc:
        raise ApplicationError(str(exc))
    if channel.sandbox:
        response = {"sandbox": True}
    else:
        try:
            response = publisher.hide(message.external_id, timeout=publishers.publish_timeout())
        except publishers.PublishError as exc:
            raise PlatformError(
                _("%(network)s did not hide the comment: %(err)s")
                % {"network": publisher.network, "err": exc.message}
            )
    with transaction.atomic():
        Message.objects.filter(pk=message.pk).update(is_hidden=True)
        message.is_hidden = True
        ticket_event_record(
            ticket=ticket, kind=TicketEvent.Kind.MODERATION, actor=actor, transition="hide_comment",
            reason=_("Comment hidden on %(network)s") % {"network": publisher.network},
            data={"message_id": message.pk, "external_id": message.external_id,
                  "network": channel.kind, "sandbox": channel.sandbox,
                  "request": request.recordable(), "response": response,
                  "personal_data": [f.get("label", "") for f in message.pii_flags or []]},
        )
    return message


# --- approval policies, the watch list and authors in training ---------------------------

POLICY_FIELDS = ("name", "order", "is_active", "rule", "intents", "scope", "explanation")
TERM_FIELDS = ("pattern", "is_regex", "language", "note", "is_active")


def _snapshot(obj, fields) -> dict:
    return {name: getattr(obj, name) for name in fields}


def _setting_change(*, subject: str, obj, before: dict, after: dict, actor, reason: str = "",
                    action: str | None = None) -> SettingChange | None:
    """Audit one change of the approval settings; nothing is written when nothing changed."""
    if action is None:
        action = SettingChange.Action.CHANGED if before else SettingChange.Action.CREATED
    if action == SettingChange.Action.CHANGED and before == after:
        return None
    return SettingChange.objects.create(
        subject=subject, action=action, object_id=obj.pk, object_repr=str(obj)[:255],
        before=before, after=after, reason=reason, actor=actor,
    )


def _setting_save(obj, *, fields, subject: str, actor):
    """Save a setting and audit it with what it was before (locked) and what it is now."""
    with transaction.atomic():
        stored = type(obj).objects.select_for_update().filter(pk=obj.pk).first() if obj.pk else None
        before = _snapshot(stored, fields) if stored else {}
        obj.save()
        _setting_change(subject=subject, obj=obj, before=before, after=_snapshot(obj, fields), actor=actor)
    return obj


def _setting_delete(obj, *, fields, subject: str, actor) -> None:
    """Delete a setting; the audit keeps what it was."""
    with transaction.atomic():
        _setting_change(subject=subject, obj=obj, before=_snapshot(obj, fields), after={}, actor=actor,
                        action=SettingChange.Action.DELETED)
        obj.delete()


def approval_policy_save(*, policy: ApprovalPolicy, actor) -> ApprovalPolicy:
    """Create or change an approval policy (leads, reviewers, admins); audited with both versions."""
    if not policies.can_configure(actor):
        raise PermissionRefused(_("Only leads, compliance reviewers and admins change approval policies."))
    policy.updated_by = actor
    if policy.rule != ApprovalPolicy.Rule.INTENT:
        policy.intents = []
    policy.full_clean()
    return _setting_save(policy, fields=POLICY_FIELDS, subject=SettingChange.Subject.POLICY, actor=actor)


def approval_policy_delete(*, policy: ApprovalPolicy, actor) -> None:
    """Remove an approval policy; the audit keeps what it was."""
    if not policies.can_configure(actor):
        raise PermissionRefused(_("Only leads, compliance reviewers and admins change approval policies."))
    _setting_delete(policy, fields=POLICY_FIELDS, subject=SettingChange.Subject.POLICY, actor=actor)


def watch_term_save(*, term: WatchTerm, actor) -> WatchTerm:
    """Create or change a watch-list word or pattern; audited with both versions."""
    if not policies.can_configure(actor):
        raise PermissionRefused(_("Only leads, compliance reviewers and admins change the watch list."))
    term.pattern = term.pattern.strip()
    term.updated_by = actor
    term.full_clean()
    return _setting_save(term, fields=TERM_FIELDS, subject=SettingChange.Subject.WATCH_TERM, actor=actor)


def watch_term_delete(*, term: WatchTerm, actor) -> None:
    """Remove a watch-list entry; the audit keeps what it was."""
    if not policies.can_configure(actor):
        raise PermissionRefused(_("Only leads, compliance reviewers and admins change the watch list."))
    _setting_delete(term, fields=TERM_FIELDS, subject=SettingChange.Subject.WATCH_TERM, actor=actor)


def author_training_set(*, author: User, in_training: bool, actor, reason: str = "") -> User:
    """Mark an author as in training (their replies then meet the in-training policy) or not.

    Leads mark the members of their teams, reviewers and admins anyone; nobody marks themselves.
    Setting the value it already has changes and audits nothing.
    """
    reason = (reason or "").strip()[:MAX_REASON]
    with transaction.atomic():
        author = User.objects.select_for_update().get(pk=author.pk)
        if not policies.can_mark_training(actor, author):
            if author.pk == actor.pk:
                raise PermissionRefused(_("Nobody changes their own training mark: ask a lead or compliance."))
            raise PermissionRefused(_("You cannot change whether %(name)s is in training.") % {"name": author})
        if author.in_training == in_training:
            return author
        before = {"in_training": author.in_training}
        author.in_training = in_training
        author.save(update_fields=["in_training"])
        _setting_change(subject=SettingChange.Subject.TRAINING, obj=author, before=before,
                        after={"in_training": in_training}, actor=actor, reason=reason)
    return author


# --- department workspaces ----------------------------------------------------------------


def _department_ticket(ticket: Ticket, department: Department, actor) -> None:
    if ticket.state != TicketState.ESCALATED or ticket.department_id != department.pk:
        raise ApplicationError(
            _("%(ref)s is no longer with %(dept)s.") % {"ref": ticket.reference, "dept": department}
        )
    if not ticket_policies.can_work_department(ticket, actor):
        raise PermissionRefused(_("Only members of %(dept)s work this ticket.") % {"dept": department})


def department_guidance_add(*, ticket: Ticket, department: Department, author, body: str) -> Note:
    """A department member writes guidance for care: an internal note addressed to the team."""
    _department_ticket(ticket, department, author)
    with transaction.atomic():
        note = note_add(ticket=ticket, author=author, body=body, is_guidance=True, department=department)
        if ticket.assignee_id and ticket.assignee_id != author.pk:
            notification_create(
                user=ticket.assignee, ticket=ticket, kind="guidance", body=note.body[:500],
                title=_("%(dept)s wrote guidance on %(ref)s") % {"dept": department, "ref": ticket.reference},
            )
    return note


def department_transfer(*, ticket: Ticket, department: Department, actor, to: Department, reason: str,
                        expected_version: int) -> Ticket:
    """Pass an escalated ticket on to a department this one may route to."""
    _department_ticket(ticket, department, actor)
    return ticket_transition(ticket=ticket, transition="transfer", actor=actor, reason=reason,
                             expected_version=expected_version, department=to)


def department_return(*, ticket: Ticket, department: Department, actor, guidance: str,
                      expected_version: int) -> Ticket:
    """Hand the ticket back to care; the guidance becomes a guidance note on the ticket."""
    _department_ticket(ticket, department, actor)
    return ticket_transition(ticket=ticket, transition="return_to_care", actor=actor, reason=guidance,
                             expected_version=expected_version)
