"""Replies to customers, their approval, and the outbox that publishes them exactly once.

A reply's state changes only through the transition methods below (django-fsm-2, protected
field, concurrent-safe); `apps.replies.services` is the one way to call them, audits every step
and does the side effects.

    draft ──submit──► awaiting_approval ──approve──► approved ──enqueue──► queued ──publish──► published
      │  ◄──recall──┘        │                                            ▲   │
      │                      └─reject─► rejected ─revise─► draft          │   └─fail─► publish_failed
      └──send (no approval needed)─────────────────────────────────────────┘          │ retry ─► queued
    draft / rejected / publish_failed ──withdraw──► withdrawn            confirm_published ─► published
"""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from apps.tickets.models import AppendOnlyModel, Channel, Intent, Message, Ticket

from . import policies


class ReplyState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    QUEUED = "queued", _("Queued for publishing")
    PUBLISHED = "published", _("Published")
    PUBLISH_FAILED = "publish_failed", _("Publishing failed")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Delivery(models.TextChoices):
    PUBLIC_REPLY = "public_reply", _("Public reply")
    DIRECT_MESSAGE = "direct_message", _("Direct message")
    PRIVATE_REPLY = "private_reply", _("Private reply to the comment")
    EMAIL = "email", _("E-mail")


class Reply(ConcurrentTransitionMixin, models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="replies_written"
    )
    body = models.TextField()
    channel = models.ForeignKey(
        Channel, on_delete=models.PROTECT, related_name="+",
        help_text=_("Where the reply goes out: the ticket's network, or a mailbox for e-mail."),
    )
    delivery = models.CharField(max_length=20, choices=Delivery.choices)
    is_public = models.BooleanField(default=True)
    recipient = models.CharField(
        max_length=255, blank=True,
        help_text=_("The customer's network id for a direct message, or the address for e-mail."),
    )
    in_reply_to = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="answered_by",
        help_text=_("The customer message being answered."),
    )
    wait_for_customer = models.BooleanField(
        default=False, help_text=_("Move the ticket to pending customer once published.")
    )

    state = FSMField(
        default=ReplyState.DRAFT, choices=ReplyState.choices, protected=True, db_index=True
    )
    version = models.PositiveIntegerField(
        default=1, help_text=_("Raised by every change: stale approval forms are refused.")
    )
    approval_reasons = models.JSONField(
        default=list, blank=True,
        help_text=_("Why approval is needed: one entry per policy that applied, explained."),
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    approval_due = models.DateTimeField(null=True, blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="replies_reviewed",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)
    external_id = models.CharField(max_length=255, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    message = models.OneToOneField(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="reply",
        help_text=_("The outbound message the published reply became."),
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name_plural = "replies"
        indexes = [
            models.Index(fields=["state", "approval_due", "submitted_at"], name="reply_queue"),
            models.Index(fields=["ticket", "state"], name="reply_ticket_state"),
            models.Index(fields=["author", "state"], name="reply_author_state"),
        ]

    def __str__(self):
        return f"Reply {self.pk} on {self.ticket_id} ({self.state})"

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("replies:detail", args=[self.pk])

    # --- workflow: transitions only change fields; services check, save, audit, publish --------

    @transition(field=state, source=ReplyState.DRAFT, target=ReplyState.AWAITING_APPROVAL,
                permission=policies.is_author, custom={"label": _("Submit for approval")})
    def submit(self, *, at, reasons: list, due):
        self.submitted_at = at
        self.approval_reasons = reasons
        self.approval_due = due
        self.reviewer = None
        self.reviewed_at = None
        self.rejection_reason = ""

    @transition(field=state, source=ReplyState.DRAFT, target=ReplyState.QUEUED,
                permission=policies.is_author, custom={"label": _("Send")})
    def send(self, *, at):
        self.submitted_at = at
        self.approval_reasons = []
        self.approval_due = None

    @transition(field=state, source=ReplyState.AWAITING_APPROVAL, target=ReplyState.DRAFT,
                permission=policies.is_author, custom={"label": _("Recall")})
    def recall(self):
        self.approval_due = None

    @transition(field=state, source=ReplyState.AWAITING_APPROVAL, target=ReplyState.APPROVED,
                permission=policies.can_review, custom={"label": _("Approve")})
    def approve(self, *, reviewer, at):
        self.reviewer = reviewer
        self.reviewed_at = at

    @transition(field=state, source=ReplyState.AWAITING_APPROVAL, target=ReplyState.REJECTED,
                permission=policies.can_review, custom={"label": _("Reject")})
    def reject(self, *, reviewer, at, rejection_reason: str):
        self.reviewer = reviewer
        self.reviewed_at = at
        self.rejection_reason = rejection_reason

    @transition(field=state, source=ReplyState.REJECTED, target=ReplyState.DRAFT,
                permission=policies.is_author, custom={"label": _("Revise")})
    def revise(self):
        pass

    @transition(field=state, source=ReplyState.APPROVED, target=ReplyState.QUEUED,
                permission=policies.system_only, custom={"label": _("Queue for publishing")})
    def enqueue(self):
        pass

    @transition(field=state, source=ReplyState.QUEUED, target=ReplyState.PUBLISHED,
                permission=policies.system_only, custom={"label": _("Published")})
    def publish(self, *, external_id: str, at):
        self.external_id = external_id
        self.published_at = at

    @transition(field=state, source=ReplyState.QUEUED, target=ReplyState.PUBLISH_FAILED,
                permission=policies.system_only, custom={"label": _("Publishing failed")})
    def fail(self):
        pass

    @transition(field=state, source=ReplyState.PUBLISH_FAILED, target=ReplyState.QUEUED,
                permission=policies.can_handle_failure, custom={"label": _("Retry")})
    def retry(self):
        pass

    @transition(field=state, source=ReplyState.PUBLISH_FAILED, target=ReplyState.PUBLISHED,
                permission=policies.can_handle_failure,
                custom={"label": _("It was posted: mark as published")})
    def confirm_published(self, *, external_id: str, at):
        self.external_id = external_id
        self.published_at = at

    @transition(field=state,
                source=[ReplyState.DRAFT, ReplyState.REJECTED, ReplyState.PUBLISH_FAILED],
                target=ReplyState.WITHDRAWN, permission=policies.can_withdraw,
                custom={"label": _("Withdraw")})
    def withdraw(self):
        self.approval_due = None


class ReplyVersion(models.Model):
    """One text of a reply: the author's drafts and every reviewer edit, kept for the audit."""

    class Role(models.TextChoices):
        AUTHOR = "author", _("Author")
        REVIEWER = "reviewer", _("Reviewer")

    reply = models.ForeignKey(Reply, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    body = models.TextField()
    edited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.AUTHOR)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["reply", "number"]
        constraints = [
            models.UniqueConstraint(fields=["reply", "number"], name="reply_version_unique_number")
        ]

    def __str__(self):
        return f"Reply {self.reply_id} v{self.number}"


class ReplyEvent(AppendOnlyModel):
    """Append-only history of one reply (the ticket's timeline gets a TicketEvent as well)."""

    reply = models.ForeignKey(Reply, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    transition = models.CharField(max_length=40)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20, blank=True)
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"Reply {self.reply_id} {self.transition}"

    @property
    def actor_label(self) -> str:
        return str(self.actor) if self.actor_id else str(_("System"))


class ApprovalPolicy(models.Model):
    """One rule that makes a reply need a second person's approval, with why, in words."""

    class Rule(models.TextChoices):
        ESCALATED = "escalated", _("Ticket is escalated to a department")
        INTENT = "intent", _("Ticket intent is one of the chosen intents")
        URGENT = "urgent", _("Ticket priority is urgent")
        WATCH_LIST = "watch_list", _("Reply contains a watch-list word or pattern")
        IN_TRAINING = "in_training", _("Author is in training")

    class Scope(models.TextChoices):
        PUBLIC = "public", _("Public replies only")
        ALL = "all", _("All replies, public and private")

    name = models.CharField(max_length=120, unique=True)
    order = models.PositiveSmallIntegerField(default=100, help_text=_("Lower runs first."))
    is_active = models.BooleanField(default=True)
    rule = models.CharField(max_length=20, choices=Rule.choices)
    intents = models.JSONField(
        default=list, blank=True, help_text=_("For the intent rule: the intents that need approval.")
    )
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.ALL)
    explanation = models.TextField(
        help_text=_("Shown to the author and the reviewer: why a second person must look.")
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "pk"]
        verbose_name_plural = "approval policies"

    def __str__(self):
        return self.name

    def clean(self):
        unknown = [i for i in self.intents or [] if i not in Intent.values]
        if unknown:
            raise ValidationError({"intents": _("Unknown intent: %(i)s") % {"i": ", ".join(unknown)}})
        if self.rule == self.Rule.INTENT and not self.intents:
            raise ValidationError({"intents": _("Choose at least one intent for this rule.")})

    def intent_labels(self) -> list[str]:
        labels = dict(Intent.choices)
        return [str(labels.get(i, i)) for i in self.intents or []]


class WatchTerm(models.Model):
    """A word or pattern that, in a reply, makes the watch-list policy ask for approval."""

    class Language(models.TextChoices):
        ANY = "any", _("Any language")
        IT = "it", _("Italian")
        NL = "nl", _("Dutch")
        EN = "en", _("English")

    language = models.CharField(max_length=3, choices=Language.choices, default=Language.ANY)
    pattern = models.CharField(
        max_length=200,
        help_text=_("A word or phrase (matched as whole words, any case), or a regular expression."),
    )
    is_regex = models.BooleanField(default=False)
    note = models.CharField(
        max_length=300, help_text=_("Why this matters; shown to the author and the reviewer.")
    )
    is_active = models.BooleanField(default=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["language", "pattern"]
        constraints = [
            models.UniqueConstraint(fields=["language", "pattern"], name="watch_term_unique")
        ]

    def __str__(self):
        return self.pattern

    def clean(self):
        from .approval import compile_term

        try:
            compile_term(self.pattern, is_regex=self.is_regex)
        except ValueError as exc:
            raise ValidationError({"pattern": str(exc)})


class Outbox(models.Model):
    """The promise to publish one reply: written in the transaction that approved or sent it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for a worker")
        IN_FLIGHT = "in_flight", _("Publishing")
        RETRY_WAIT = "retry_wait", _("Will retry")
        SENT = "sent", _("Published")
        FAILED = "failed", _("Needs attention")
        UNKNOWN = "unknown", _("Outcome unknown: check before retrying")
        CANCELLED = "cancelled", _("Withdrawn")

    OPEN_STATUSES = (Status.PENDING, Status.IN_FLIGHT, Status.RETRY_WAIT)

    reply = models.OneToOneField(Reply, on_delete=models.CASCADE, related_name="outbox")
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(
        default=0, help_text=_("Attempts since the reply was last queued (a retry starts again).")
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(
        default=timezone.now, help_text=_("When a publish task was last handed to the broker.")
    )
    lease_until = models.DateTimeField(
        null=True, blank=True, help_text=_("A worker holds the row until then while it publishes.")
    )
    last_error = models.TextField(blank=True)
    sandbox_request = models.JSONField(
        null=True, blank=True, help_text=_("Sandbox channels: exactly what would have been sent.")
    )
    external_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "outbox"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbox_status_next")]

    def __str__(self):
        return f"Outbox {self.pk} ({self.status})"


class PublishAttempt(models.Model):
    """One try at the network, written and committed before the call is made.

    An attempt still `started` when its worker's lease ran out means the worker died during
    or right after the call: whether the reply was posted is unknown until it is reconciled.
    """

    class Outcome(models.TextChoices):
        STARTED = "started", _("Started")
        SUCCEEDED = "succeeded", _("Published")
        FOUND = "found", _("Found already published on the network")
        RETRYABLE = "retryable", _("Failed, will retry")
        PERMANENT = "permanent", _("Refused by the network")
        UNKNOWN = "unknown", _("Outcome unknown")
        NOT_POSTED = "not_posted", _("Checked by a person: not posted")

    outbox = models.ForeignKey(Outbox, on_delete=models.CASCADE, related_name="publish_attempts")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.STARTED)
    reconciling = models.BooleanField(
        default=False, help_text=_("The network was searched for an earlier unconfirmed post first.")
    )
    sandbox = models.BooleanField(default=False)
    http_status = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    request = models.JSONField(default=dict, blank=True)
    response = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["outbox", "number"]
        constraints = [
            models.UniqueConstraint(fields=["outbox", "number"], name="publish_attempt_unique_number")
        ]

    def __str__(self):
        return f"Attempt {self.number} of outbox {self.outbox_id}: {self.outcome}"


class SettingChange(AppendOnlyModel):
    """Append-only record of who changed the approval settings, and what it was before and after:
    policies, watch-list entries, and which authors are marked as in training."""

    class Subject(models.TextChoices):
        POLICY = "policy", _("Approval policy")
        WATCH_TERM = "watch_term", _("Watch-list entry")
        TRAINING = "training", _("Author in training")

    class Action(models.TextChoices):
        CREATED = "created", _("Created")
        CHANGED = "changed", _("Changed")
        DELETED = "deleted", _("Deleted")

    subject = models.CharField(max_length=12, choices=Subject.choices)
    action = models.CharField(max_length=10, choices=Action.choices)
    object_id = models.PositiveIntegerField(null=True, blank=True)
    object_repr = models.CharField(max_length=255)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["subject", "object_id", "created_at"], name="setting_change_object")]

    def __str__(self):
        return f"{self.subject} {self.object_repr} {self.action}"

    def changes(self) -> list[tuple[str, object, object]]:
        """(field, before, after) for every field whose value differs."""
        keys = list(dict.fromkeys([*self.before, *self.after]))
        return [(k, self.before.get(k), self.after.get(k)) for k in keys
                if self.before.get(k) != self.after.get(k)]
