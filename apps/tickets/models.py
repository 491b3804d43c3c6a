"""Channels, customers, tickets and their thread, notes and audit trail.

The ticket's state changes only through the transition methods below (django-fsm-2 with a
protected field); `apps.tickets.services.ticket_transition` is the one way to call them.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from apps.accounts.models import Department, Team

from . import policies


class Channel(models.Model):
    class Kind(models.TextChoices):
        X = "x", "X"
        FACEBOOK = "facebook", "Facebook"
        INSTAGRAM = "instagram", "Instagram"
        LINKEDIN = "linkedin", "LinkedIn"
        EMAIL = "email", _("E-mail")
        LETTER = "letter", _("Letter")
        CERTIFIED_EMAIL = "certified_email", _("Certified e-mail")
        PHONE = "phone", _("Phone")
        API = "api", "API"

    PUBLIC_KINDS = {Kind.X, Kind.FACEBOOK, Kind.INSTAGRAM, Kind.LINKEDIN}
    REPLY_LIMITS = {Kind.X: 280, Kind.LINKEDIN: 1250, Kind.INSTAGRAM: 2200, Kind.FACEBOOK: 8000}

    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(_("display name"), max_length=100)
    slug = models.SlugField(unique=True)
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        help_text=_("Team that gets new tickets when no routing rule applies."),
    )
    account_id = models.CharField(
        max_length=200,
        blank=True,
        help_text=_("The brand's own id on the platform (user id, page id, organization URN, mailbox)."),
    )
    secrets = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("Server-side only: consumer_secret, app_secret, verify_token, client_secret, token…"),
    )
    api_base_url = models.URLField(blank=True)
    sandbox = models.BooleanField(
        default=True, help_text=_("Record outgoing requests instead of sending them.")
    )
    config = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def is_public_network(self) -> bool:
        return self.kind in self.PUBLIC_KINDS

    @property
    def reply_limit(self) -> int | None:
        return self.REPLY_LIMITS.get(self.kind)

    def secret(self, name: str) -> str:
        return str(self.secrets.get(name, ""))


class Customer(models.Model):
    display_name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    language = models.CharField(max_length=8, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    erased_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.display_name or f"Customer {self.pk}"


class Identity(models.Model):
    """One account of a customer on one network (or one mailbox, or one phone number)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    channel_kind = models.CharField(max_length=20, choices=Channel.Kind.choices)
    external_id = models.CharField(max_length=255)
    handle = models.CharField(max_length=255, blank=True)
    display_name = models.CharField(max_length=255, blank=True)
    followers_count = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "identities"
        constraints = [
            models.UniqueConstraint(
                fields=["channel_kind", "external_id"], name="identity_unique_per_network"
            )
        ]
        indexes = [models.Index(fields=["channel_kind", "handle"])]

    def __str__(self):
        return f"{self.get_channel_kind_display()}: {self.handle or self.external_id}"

    @property
    def label(self) -> str:
        if self.handle and self.channel_kind == Channel.Kind.X:
            return f"@{self.handle}"
        return self.display_name or self.handle or self.external_id


class TicketState(models.TextChoices):
    NEW = "new", _("New")
    OPEN = "open", _("Open")
    PENDING_CUSTOMER = "pending_customer", _("Pending customer")
    ESCALATED = "escalated", _("Escalated")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


class Intent(models.TextChoices):
    SUPPORT_REQUEST = "support_request", _("Support request")
    EMERGING_PROBLEM = "emerging_problem", _("Emerging problem")
    WIDESPREAD_ANOMALY = "widespread_anomaly", _("Widespread anomaly")
    MIS_SELLING = "mis_selling", _("Mis-selling")
    REPUTATIONAL_RISK = "reputational_risk", _("Reputational risk")
    WISH = "wish", _("Wish")
    PRAISE = "praise", _("Praise")
    OTHER = "other", _("Other")


class Sentiment(models.TextChoices):
    NEGATIVE = "negative", _("Negative")
    NEUTRAL = "neutral", _("Neutral")
    POSITIVE = "positive", _("Positive")


class SlaStatus(models.TextChoices):
    NONE = "none", _("No clock")
    OK = "ok", _("On time")
    WARNING = "warning", _("At risk")
    BREACHED = "breached", _("Breached")


CARE_STATES = [TicketState.NEW, TicketState.OPEN, TicketState.PENDING_CUSTOMER]
OPEN_STATES = [*CARE_STATES, TicketState.ESCALATED]


class TicketQuerySet(models.QuerySet):
    def active(self):
        return self.filter(state__in=OPEN_STATES)


class Ticket(ConcurrentTransitionMixin, models.Model):
    subject = models.CharField(max_length=300)
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="tickets")
    # Foreign keys that a composite index in Meta starts with carry no index of their own.
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="tickets", db_index=False
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, db_index=False)
    department = models.ForeignKey(
        Department,
        null=True,
        blank=True,
        db_index=False,
        on_delete=models.PROTECT,
        help_text=_("The department holding the ticket while it is escalated."),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
        db_index=False,
    )
    state = FSMField(
        default=TicketState.NEW, choices=TicketState.choices, protected=True
    )
    version = models.PositiveIntegerField(
        default=1, help_text=_("Raised by every transition: stale forms are refused.")
    )
    priority = models.CharField(
        max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    language = models.CharField(max_length=8, blank=True)
    intent = models.CharField(max_length=32, choices=Intent.choices, default=Intent.OTHER)
    sentiment = models.CharField(
        max_length=10, choices=Sentiment.choices, default=Sentiment.NEUTRAL
    )
    confidential = models.BooleanField(default=False)
    triage_explanation = models.JSONField(default=dict, blank=True)
    escalation_reason = models.TextField(blank=True)

    conversation_key = models.CharField(
        max_length=255, blank=True,
        help_text=_("Platform conversation: X conversation id, Meta post id, LinkedIn post URN."),
    )
    context = models.JSONField(
        default=dict, blank=True,
        help_text=_("The post the ticket was written under (campaign or sponsored post)."),
    )
    linked_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="follow_ups",
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_tickets",
    )

    # Regulatory handling
    is_formal_complaint = models.BooleanField(default=False)
    complaint_category = models.CharField(max_length=40, blank=True)

    # SLA deadlines, maintained by apps.sla; stored so queues sort and filter in SQL.
    first_response_due = models.DateTimeField(null=True, blank=True, db_index=True)
    next_response_due = models.DateTimeField(null=True, blank=True, db_index=True)
    resolution_due = models.DateTimeField(null=True, blank=True, db_index=True)
    sla_due = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text=_("Earliest running customer deadline.")
    )
    department_due = models.DateTimeField(null=True, blank=True, db_index=True)
    regulatory_due = models.DateTimeField(null=True, blank=True, db_index=True)
    sla_status = models.CharField(
        max_length=10, choices=SlaStatus.choices, default=SlaStatus.NONE
    )

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    last_customer_message_at = models.DateTimeField(null=True, blank=True)
    last_agent_reply_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = TicketQuerySet.as_manager()

    class Meta:
        ordering = [F("sla_due").asc(nulls_last=True), "-created_at"]
        permissions = [
            ("work_ticket", "Can work tickets of own team (care agent)"),
            ("lead_ticket", "Can lead tickets of own team"),
            ("log_contact", "Can log a letter, certified e-mail or phone call"),
        ]
        # Every index is written by every non-HOT update of a ticket (each SLA sweep rewrites
        # thousands): only indexes a query uses. Low-cardinality columns (priority, language,
        # confidential, sla_status) are filtered together with state and team, which the
        # composite indexes and workspace's partial queue index serve; sla_status carries no
        # index, so the sweep's status update can stay a heap-only (HOT) update.
        indexes = [
            models.Index(fields=["conversation_key"], name="ticket_conversation"),
            models.Index(fields=["state", "sla_due"], name="ticket_state_due"),
            models.Index(fields=["team", "state", "sla_due"], name="ticket_team_state_due"),
            models.Index(fields=["department", "state"], name="ticket_dept_state"),
            models.Index(fields=["customer", "state"], name="ticket_customer_state"),
            models.Index(fields=["assignee", "state"], name="ticket_assignee_state"),
        ]

    def __str__(self):
        return f"{self.reference} {self.subject}"

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("tickets:detail", args=[self.pk])

    @property
    def reference(self) -> str:
        return f"CT-{self.pk:06d}" if self.pk else "CT-new"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    # --- workflow -------------------------------------------------------------------------
    # Transitions only change fields; ticket_transition() checks, saves, audits and notifies.

    @transition(field=state, source=TicketState.NEW, target=TicketState.OPEN,
                permission=policies.can_work_care, custom={"label": _("Triage")})
    def triage(self):
        pass

    @transition(field=state, source=CARE_STATES, target=None,
                conditions=[policies.is_unassigned], permission=policies.can_work_care,
                custom={"label": _("Claim")})
    def claim(self, *, user):
        self.assignee = user

    @transition(field=state, source=CARE_STATES, target=None,
                conditions=[policies.is_assigned], permission=policies.can_work_care,
                custom={"label": _("Take over"), "needs_reason": True})
    def take_over(self, *, user):
        self.assignee = user

    @transition(field=state, source=CARE_STATES, target=None,
                permission=policies.can_lead_care, custom={"label": _("Assign"), "ui_form": "assign"})
    def assign(self, *, assignee):
        self.assignee = assignee

    @transition(field=state, source=TicketState.OPEN, target=TicketState.PENDING_CUSTOMER,
                permission=policies.can_work_care, custom={"label": _("Wait for customer")})
    def wait_for_customer(self):
        pass

    @transition(field=state, source=[TicketState.PENDING_CUSTOMER, TicketState.RESOLVED],
                target=TicketState.OPEN, permission=policies.system_only,
                custom={"label": _("Customer replied"), "system": True})
    def customer_replied(self):
        self.resolved_at = None

    @transition(field=state, source=TicketState.OPEN, target=TicketState.ESCALATED,
                permission=policies.can_work_care,
                custom={"label": _("Escalate"), "ui_form": "escalate", "needs_reason": True})
    def escalate(self, *, department):
        self.department = department
        if department.confidential:
            self.confidential = True
        self._drop_assignee_who_cannot_see()

    @transition(field=state, source=TicketState.ESCALATED, target=TicketState.ESCALATED,
                conditions=[policies.department_has_routes],
                permission=policies.can_work_department,
                custom={"label": _("Transfer"), "ui_form": "transfer", "needs_reason": True})
    def transfer(self, *, department):
        self.department = department
        if department.confidential:
            self.confidential = True
        self._drop_assignee_who_cannot_see()

    def _drop_assignee_who_cannot_see(self):
        # A care agent keeps no claim on a ticket that became confidential to them.
        if self.assignee_id is not None and not policies.can_view(self, self.assignee):
            self.assignee = None

    @transition(field=state, source=TicketState.ESCALATED, target=TicketState.OPEN,
                permission=policies.can_work_department,
                custom={"label": _("Return to care"), "needs_reason": True,
                        "reason_label": _("Guidance for care")})
    def return_to_care(self):
        self.department = None

    @transition(field=state, source=[TicketState.OPEN, TicketState.PENDING_CUSTOMER],
                target=TicketState.RESOLVED, permission=policies.can_work_care,
                custom={"label": _("Resolve")})
    def resolve(self, *, at):
        self.resolved_at = at

    @transition(field=state, source=TicketState.RESOLVED, target=TicketState.OPEN,
                permission=policies.can_work_care, custom={"label": _("Reopen"), "needs_reason": True})
    def reopen(self):
        self.resolved_at = None

    @transition(field=state, source=TicketState.RESOLVED, target=TicketState.CLOSED,
                permission=policies.can_work_care, custom={"label": _("Close")})
    def close(self, *, at):
        self.closed_at = at


class Message(models.Model):
    class Direction(models.TextChoices):
        IN = "in", _("From customer")
        OUT = "out", _("From us")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="messages")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    is_public = models.BooleanField(default=True)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField()
    author_identity = models.ForeignKey(
        Identity, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    external_id = models.CharField(max_length=255, null=True, blank=True)
    parent_external_id = models.CharField(max_length=255, blank=True)
    conversation_id = models.CharField(max_length=255, blank=True)
    references = models.JSONField(default=list, blank=True)
    hashtags = models.JSONField(default=list, blank=True)
    is_automatic = models.BooleanField(default=False)
    is_removed = models.BooleanField(default=False)
    is_hidden = models.BooleanField(default=False)
    edited_at = models.DateTimeField(null=True, blank=True)
    pii_flags = models.JSONField(default=list, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                condition=Q(external_id__isnull=False),
                name="message_external_id_unique_per_channel",
            )
        ]
        indexes = [models.Index(fields=["ticket", "created_at"])]

    def __str__(self):
        return f"{self.get_direction_display()} {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def author_label(self) -> str:
        if self.author_user_id:
            return str(self.author_user)
        if self.author_identity_id:
            return self.author_identity.label
        return ""


class Note(models.Model):
    """Internal note; a department's guidance to care is a note with `is_guidance`."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    body = models.TextField()
    is_guidance = models.BooleanField(default=False)
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.SET_NULL)
    mentions = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="mentioned_in_notes"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"Note on {self.ticket_id} by {self.author}"


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("The audit trail is append-only.")

    def delete(self):
        raise PermissionError("The audit trail is append-only.")


class AppendOnlyModel(models.Model):
    """An audit row: written once, never updated or deleted, through the ORM at least (on
    PostgreSQL a trigger guards the ticket trail below it as well)."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("The audit trail is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The audit trail is append-only.")


class TicketEvent(AppendOnlyModel):
    """Append-only audit row: who did what to a ticket, when, from which state to which."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        TRANSITION = "transition", _("Transition")
        NOTE = "note", _("Note")
        MESSAGE = "message", _("Message")
        TRIAGE = "triage", _("Triage")
        SLA = "sla", _("SLA")
        REPLY = "reply", _("Reply")
        MERGE = "merge", _("Merge")
        PRIVACY = "privacy", _("Privacy")
        MODERATION = "moderation", _("Moderation")

    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    transition = models.CharField(max_length=40, blank=True)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20, blank=True)
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["ticket", "created_at"])]

    def __str__(self):
        return f"{self.ticket_id} {self.kind} {self.transition}"

    @property
    def actor_label(self) -> str:
        return str(self.actor) if self.actor_id else str(_("System"))
