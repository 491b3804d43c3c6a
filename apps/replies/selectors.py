"""Reads for the reply pages, with the visibility rules and joins applied here, once."""

import difflib
import json
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.http import Http404
from django.utils.translation import gettext as _

from apps.accounts import roles
from apps.accounts.models import Department, User
from apps.tickets import policies as ticket_policies
from apps.tickets.models import Channel, Message, Note, Ticket, TicketEvent, TicketState
from apps.tickets.selectors import ticket_visible_qs

from . import approval, guard, policies
from .models import (
    ApprovalPolicy,
    Delivery,
    Outbox,
    PublishAttempt,
    Reply,
    ReplyState,
    ReplyVersion,
    SettingChange,
    WatchTerm,
)

MAX_BODY = 10_000
DEPARTMENT_KINDS = (
    Department.Kind.LEGAL, Department.Kind.COMPLIANCE, Department.Kind.HR, Department.Kind.RISK,
    Department.Kind.COMPLAINTS_OFFICE,
)


# --- where a reply can go -----------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryOption:
    delivery: str
    channel: Channel
    recipient: str
    is_public: bool
    label: str


def reply_reviewers(reply: Reply) -> list[User]:
    """Who is asked to approve this reply: the reviewers who may (never its author).

    An HR-confidential ticket is closed to compliance reviewers outside HR, so besides any
    reviewer in a confidential department the admins are asked, who may approve it too.
    """
    asked = Q(groups__name=roles.REVIEWER)
    if reply.ticket.confidential:
        asked |= Q(groups__name=roles.ADMIN) | Q(is_superuser=True)
    candidates = User.objects.filter(asked, is_active=True).exclude(pk=reply.author_id).distinct().order_by("pk")
    return [user for user in candidates if policies.can_review(reply, user)]


def latest_inbound(ticket: Ticket) -> Message | None:
    """The customer message a reply answers unless the author picks another."""
    return (
        Message.objects.filter(ticket=ticket, direction=Message.Direction.IN, is_removed=False)
        .select_related("author_identity", "channel")
        .order_by("-created_at", "-pk")
        .first()
    )


def inbound_messages(ticket: Ticket, *, limit: int = 10) -> list[Message]:
    return list(
        Message.objects.filter(ticket=ticket, direction=Message.Direction.IN, is_removed=False)
        .select_related("author_identity", "channel")
        .order_by("-created_at", "-pk")[:limit]
    )


def mailbox_for(ticket: Ticket) -> Channel | None:
    """The mailbox that sends private e-mail for tickets that came in on a network without DMs."""
    mailboxes = Channel.objects.filter(kind=Channel.Kind.EMAIL, is_active=True).order_by("pk")
    return mailboxes.filter(team_id=ticket.team_id).first() or mailboxes.first()


def delivery_options(ticket: Ticket, in_reply_to: Message | None) -> dict[str, DeliveryOption | None]:
    """How a reply to `in_reply_to` can go out: {"public": …, "private": …} (None = impossible).

    Public means under the customer's post on the network. Private means a direct message where
    the network has one (X DM, Facebook private reply or Messenger, Instagram DM) and otherwise
    e-mail to the address we know for the customer.
    """
    channel = ticket.channel
    kind = channel.kind
    public = private = None
    identity = in_reply_to.author_identity if in_reply_to and in_reply_to.author_identity_id else None
    network_id = identity.external_id if identity and identity.channel_kind == kind else ""
    if kind in Channel.PUBLIC_KINDS and in_reply_to is not None:
        if in_reply_to.is_public and in_reply_to.external_id:
            public = DeliveryOption(
                Delivery.PUBLIC_REPLY, channel, "", True,
                _("Public reply on %(network)s") % {"network": channel.get_kind_display()},
            )
        if kind == Channel.Kind.X and network_id:
            private = DeliveryOption(Delivery.DIRECT_MESSAGE, channel, network_id, False,
                                     _("Direct message on X"))
        elif kind == Channel.Kind.FACEBOOK and in_reply_to.is_public and in_reply_to.external_id:
            private = DeliveryOption(Delivery.PRIVATE_REPLY, channel, network_id, False,
                                     _("Private reply on Messenger"))
        elif kind in (Channel.Kind.FACEBOOK, Channel.Kind.INSTAGRAM) and not in_reply_to.is_public \
                and network_id:
            private = DeliveryOption(
                Delivery.DIRECT_MESSAGE, channel, network_id, False,
                _("Direct message on %(network)s") % {"network": channel.get_kind_display()},
            )
    if private is None:
        address = ""
        if kind in (Channel.Kind.EMAIL, Channel.Kind.CERTIFIED_EMAIL):
            if identity and "@" in identity.external_id:
                address = identity.external_id
            mailbox = channel
        else:
            mailbox = mailbox_for(ticket)
        address = address or ticket.customer.email
        if address and mailbox is not None:
            private = DeliveryOption(Delivery.EMAIL, mailbox, address, False,
                                     _("E-mail to %(address)s") % {"address": address})
    return {"public": public, "private": private}


# --- what the composer tells the author before sending ------------------------------------


def _mailbox_domains() -> list[str]:
    return sorted({
        account.rpartition("@")[2].lower()
        for account in Channel.objects.filter(
            kind__in=[Channel.Kind.EMAIL, Channel.Kind.CERTIFIED_EMAIL]
        ).values_list("account_id", flat=True)
        if "@" in account
    })


def guard_allowances() -> tuple[set[str], list[str]]:
    """The brand's own contacts a public reply may mention: its mail domains and listed numbers.

    The mailbox domains are cached for a minute: ingest scans every inbound public post.
    """
    domains = set(getattr(settings, "REPLIES_GUARD_ALLOWED_EMAIL_DOMAINS", []))
    domains.add(settings.DEFAULT_FROM_EMAIL.rpartition("@")[2])
    domains.update(cache.get_or_set("replies:guard:mailbox-domains", _mailbox_domains, 60))
    return {d.lower() for d in domains if d}, list(getattr(settings, "REPLIES_GUARD_ALLOWED_VALUES", []))


def scan_public_text(text: str) -> list[guard.Finding]:
    domains, values = guard_allowances()
    return guard.scan(text, allowed_email_domains=domains, allowed_values=values)


@dataclass
class ReplyCheck:
    reasons: list[dict] = field(default_factory=list)
    findings: list[guard.Finding] = field(default_factory=list)
    length: int = 0
    limit: int | None = None

    @property
    def needs_approval(self) -> bool:
        return bool(self.reasons)

    @property
    def too_long(self) -> bool:
        return self.limit is not None and self.length > self.limit


def reply_evaluate(*, ticket: Ticket, author, body: str, is_public: bool) -> ReplyCheck:
    """Approval reasons, personal data found (public replies only) and length, for this text."""
    body = body or ""
    active_policies = ApprovalPolicy.objects.filter(is_active=True)
    terms = WatchTerm.objects.filter(is_active=True)
    reasons = approval.approval_reasons(
        ticket=ticket, author=author, body=body, is_public=is_public,
        policies=active_policies, terms=terms,
    )
    findings = scan_public_text(body) if is_public else []
    limit = ticket.channel.reply_limit if is_public else None
    return ReplyCheck(reasons=reasons, findings=findings, length=len(body), limit=limit)


def current_draft(ticket: Ticket, user) -> Reply | None:
    """The author's reply still in their hands on this ticket (a draft, or one sent back)."""
    return (
        Reply.objects.filter(ticket=ticket, author=user,
                             state__in=[ReplyState.DRAFT, ReplyState.REJECTED])
        .select_related("in_reply_to", "reviewer", "channel")
        .order_by("-updated_at", "-pk")
        .first()
    )


def reply_composer_context(ticket: Ticket, user, *, draft: Reply | None = None, body: str | None = None,
                           is_public: bool | None = None, wait_for_customer: bool | None = None,
                           in_reply_to: Message | None = None, error: str = "",
                           findings: list | None = None, status: str = "") -> dict:
    """Everything `replies/_composer.html` needs; the ticket page merges it into its context.

    Keys are prefixed `reply_` so they never collide with the page's own context.
    """
    can_compose = policies.can_compose(ticket, user)
    if draft is None and body is None and can_compose:
        draft = current_draft(ticket, user)
    if draft is not None:
        in_reply_to = in_reply_to or draft.in_reply_to
    if in_reply_to is None:
        in_reply_to = latest_inbound(ticket)
    options = delivery_options(ticket, in_reply_to)
    if is_public is None:
        is_public = draft.is_public if draft is not None else options["public"] is not None
    if is_public and options["public"] is None:
        is_public = False
    if body is None:
        body = draft.body if draft is not None else ""
    if wait_for_customer is None:
        wait_for_customer = draft.wait_for_customer if draft is not None else False
    check = reply_evaluate(ticket=ticket, author=user, body=body, is_public=is_public) if can_compose \
        else ReplyCheck()
    limit = ticket.channel.reply_limit
    return {
        "reply_ticket": ticket,
        "reply_can_compose": can_compose,
        "reply_draft": draft,
        "reply_body": body,
        "reply_is_public": is_public,
        "reply_wait_for_customer": wait_for_customer,
        "reply_wait_available": ticket.state in (TicketState.OPEN, TicketState.NEW),
        "reply_limit": limit or "",
        "reply_public_option": options["public"],
        "reply_private_option": options["private"],
        "reply_in_reply_to": in_reply_to,
        "reply_inbound": inbound_messages(ticket) if can_compose else [],
        "reply_check": check,
        "reply_error": error,
        "reply_findings": findings or [],
        "reply_status": status,
        "reply_max_body": MAX_BODY,
    }


# --- the ticket's replies -----------------------------------------------------------------


@dataclass(frozen=True)
class DiffPart:
    op: str  # "equal" | "del" | "ins"
    text: str


_TOKEN_RE = re.compile(r"\s+|[^\s]+")


def _is_small(text: str) -> bool:
    # A lone short word (or only spaces) between two edits reads better inside the edit.
    words = text.split()
    return len(words) <= 1 and len(text) <= 12


def text_diff(old: str, new: str) -> list[DiffPart]:
    """Word-level difference between two texts; templates escape every part when rendering.

    Edits separated by a single short word are merged into one, so a rewritten sentence reads
    as "old words" → "new words" instead of an interleaving of fragments.
    """
    a, b = _TOKEN_RE.findall(old or ""), _TOKEN_RE.findall(new or "")
    runs: list[list] = []  # [kind, old text, new text] with kind "equal" or "change"
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        kind = "equal" if op == "equal" else "change"
        old_text, new_text = "".join(a[i1:i2]), "".join(b[j1:j2])
        if runs and runs[-1][0] == kind == "change":
            runs[-1][1] += old_text
            runs[-1][2] += new_text
        else:
            runs.append([kind, old_text, new_text])
    merged = True
    while merged:
        merged = False
        for i in range(1, len(runs) - 1):
            if runs[i][0] == "equal" and runs[i - 1][0] == runs[i + 1][0] == "change" \
                    and _is_small(runs[i][1]):
                before, middle, after = runs[i - 1], runs[i], runs[i + 1]
                runs[i - 1:i + 2] = [["change", before[1] + middle[1] + after[1],
                                      before[2] + middle[2] + after[2]]]
                merged = True
                break
    parts: list[DiffPart] = []
    for kind, old_text, new_text in runs:
        if kind == "equal":
            parts.append(DiffPart("equal", old_text))
            continue
        if old_text:
            parts.append(DiffPart("del", old_text))
        if new_text:
            parts.append(DiffPart("ins", new_text))
    return parts


@dataclass
class ReplyItem:
    reply: Reply
    versions: list[ReplyVersion]
    diff: list[DiffPart] | None
    author_text: str
    outbox: Outbox | None
    attempts: list[PublishAttempt]
    sandbox_request_json: str
    can_recall: bool = False
    can_withdraw: bool = False
    can_retry: bool = False
    can_confirm: bool = False


def reviewer_diff(versions: list[ReplyVersion]) -> tuple[str, list[DiffPart] | None]:
    """(the author's last text, its diff to the reviewer's edit) or (text, None) when not edited."""
    author_versions = [v for v in versions if v.role == ReplyVersion.Role.AUTHOR]
    reviewer_versions = [v for v in versions if v.role == ReplyVersion.Role.REVIEWER]
    if not reviewer_versions:
        return (author_versions[-1].body if author_versions else ""), None
    edit = reviewer_versions[-1]
    before = [v for v in author_versions if v.number < edit.number]
    author_text = before[-1].body if before else ""
    return author_text, text_diff(author_text, edit.body)


def _reply_item(reply: Reply, user) -> ReplyItem:
    versions = list(reply.versions.all())
    author_text, diff = reviewer_diff(versions)
    outbox = getattr(reply, "outbox", None)
    attempts = list(outbox.publish_attempts.all()) if outbox else []
    sandbox_json = ""
    if outbox is not None and outbox.sandbox_request:
        sandbox_json = json.dumps(outbox.sandbox_request, indent=2, ensure_ascii=False)
    failed = reply.state == ReplyState.PUBLISH_FAILED
    handles_failure = failed and policies.can_handle_failure(reply, user)
    is_author = reply.author_id == user.pk
    return ReplyItem(
        reply=reply, versions=versions, diff=diff, author_text=author_text, outbox=outbox,
        attempts=attempts, sandbox_request_json=sandbox_json,
        can_recall=reply.state == ReplyState.AWAITING_APPROVAL and is_author,
        can_withdraw=(reply.state in (ReplyState.DRAFT, ReplyState.REJECTED) and is_author)
        or handles_failure,
        can_retry=handles_failure,
        can_confirm=handles_failure,
    )


def _replies_qs() -> QuerySet[Reply]:
    return Reply.objects.select_related(
        "author", "reviewer", "channel", "in_reply_to", "outbox", "message"
    ).prefetch_related(
        Prefetch("versions", queryset=ReplyVersion.objects.select_related("edited_by")),
        Prefetch("outbox__publish_attempts", queryset=PublishAttempt.objects.order_by("number")),
    )


def ticket_replies(ticket: Ticket, user) -> list[ReplyItem]:
    """The ticket's replies, oldest first; other people's unsent drafts stay private to them."""
    replies = _replies_qs().filter(ticket=ticket).filter(
        ~Q(state__in=[ReplyState.DRAFT, ReplyState.WITHDRAWN]) | Q(author=user)
    ).order_by("created_at", "pk")
    return [_reply_item(r, user) for r in replies]


def flagged_messages(ticket: Ticket) -> list[Message]:
    """Public customer posts on this ticket that expose personal data and are still visible."""
    return list(
        Message.objects.filter(
            ticket=ticket, direction=Message.Direction.IN, is_public=True, is_hidden=False,
            is_removed=False,
        ).exclude(pii_flags=[]).select_related("channel", "author_identity").order_by("created_at")
    )


def ticket_replies_context(ticket: Ticket, user) -> dict:
    """Everything `replies/_ticket_replies.html` needs; merged into the ticket page's context."""
    others_drafting = (
        Reply.objects.filter(ticket=ticket, state=ReplyState.DRAFT).exclude(author=user)
        .select_related("author").order_by("author__username")
    )
    return {
        "reply_ticket": ticket,
        "reply_items": ticket_replies(ticket, user),
        "reply_flagged": flagged_messages(ticket),
        "reply_can_moderate": policies.can_moderate(ticket, user),
        "reply_others_drafting": sorted({str(r.author) for r in others_drafting}),
    }


def reply_page_context(ticket: Ticket, user) -> dict:
    """Both reply templates' context in one call, for pages that include both."""
    return {**reply_composer_context(ticket, user), **ticket_replies_context(ticket, user)}


def reply_get_for_user(user, pk: int) -> Reply:
    """The reply if the user may see its ticket, or may review it; 404 otherwise."""
    reply = _replies_qs().select_related("ticket", "ticket__channel", "ticket__customer",
                                         "ticket__department").filter(pk=pk).first()
    if reply is None:
        raise Http404("No such reply")
    ticket = reply.ticket
    if ticket_policies.can_view(ticket, user):
        return reply
    if reply.state != ReplyState.DRAFT and policies.can_see_for_review(ticket, user):
        return reply
    raise Http404("No such reply")


def reply_item_for_user(reply: Reply, user) -> ReplyItem:
    return _reply_item(reply, user)


def ticket_get_for_composer(user, pk: int) -> Ticket:
    ticket = (
        Ticket.objects.select_related("channel", "customer", "team", "department", "assignee")
        .filter(pk=pk).first()
    )
    if ticket is None or not ticket_policies.can_view(ticket, user):
        raise Http404("No such ticket")
    return ticket


# --- the approval queue -------------------------------------------------------------------


def review_visible_q(user, prefix: str = "ticket__") -> Q:
    """Replies a reviewer may see: any non-confidential ticket, confidential ones only when the
    ticket visibility rule (HR members, admins) lets them."""
    return Q(**{f"{prefix}confidential": False}) | Q(
        **{f"{prefix}in": ticket_visible_qs(user).filter(confidential=True)}
    )


def _approval_qs(user) -> QuerySet[Reply]:
    last_in = Message.objects.filter(
        ticket=OuterRef("ticket"), direction=Message.Direction.IN
    ).order_by("-created_at", "-pk")
    return (
        Reply.objects.filter(review_visible_q(user))
        .select_related(
            "ticket", "ticket__channel", "ticket__customer", "ticket__department", "author",
            "in_reply_to", "in_reply_to__author_identity", "channel", "reviewer",
        )
        .annotate(
            last_customer_body=Subquery(last_in.values("body")[:1]),
            last_customer_at=Subquery(last_in.values("created_at")[:1]),
        )
    )


def approval_queue(user) -> list[Reply]:
    """Replies awaiting approval that this reviewer may see, most urgent deadline first."""
    if not policies.is_reviewer(user):
        return []
    return list(
        _approval_qs(user).filter(state=ReplyState.AWAITING_APPROVAL)
        .order_by(F("approval_due").asc(nulls_last=True), "submitted_at", "pk")
    )


def approval_queue_item(user, pk: int) -> Reply:
    """One queue item after a decision, whatever its state now."""
    reply = _approval_qs(user).filter(pk=pk).first()
    if reply is None:
        raise Http404("No such reply")
    return reply


def approval_item(user, pk: int) -> Reply:
    reply = reply_get_for_user(user, pk)
    if not policies.can_see_for_review(reply.ticket, user):
        raise Http404("No such reply")
    return reply


def policy_list() -> tuple[list[ApprovalPolicy], list[WatchTerm]]:
    return (
        list(ApprovalPolicy.objects.select_related("updated_by")),
        list(WatchTerm.objects.select_related("updated_by")),
    )


@dataclass
class TrainingRow:
    author: User
    teams: list
    changed_at: object = None
    changed_by: User | None = None
    can_change: bool = False


def _training_qs(actor) -> QuerySet[User]:
    """The authors this person may see on the training list: leads their teams' members,
    reviewers and admins everyone who writes replies (a care team or a department)."""
    last = SettingChange.objects.filter(
        subject=SettingChange.Subject.TRAINING, object_id=OuterRef("pk")
    ).order_by("-created_at", "-pk")
    qs = User.objects.filter(is_active=True)
    if roles.is_admin(actor) or roles.has_role(actor, roles.REVIEWER):
        qs = qs.filter(Q(teams__isnull=False) | Q(departments__isnull=False))
    else:
        qs = qs.filter(teams__in=actor.teams.all())
    return (
        User.objects.filter(pk__in=qs.values("pk"))
        .prefetch_related("teams")
        .annotate(training_changed_at=Subquery(last.values("created_at")[:1]),
                  training_changed_by=Subquery(last.values("actor")[:1]))
        .order_by("-in_training", "first_name", "username")
    )


def _training_rows(actor, authors: list[User]) -> list[TrainingRow]:
    by_id = {u.pk: u for u in User.objects.filter(
        pk__in={a.training_changed_by for a in authors if a.training_changed_by})}
    return [
        TrainingRow(author=a, teams=list(a.teams.all()), changed_at=a.training_changed_at,
                    changed_by=by_id.get(a.training_changed_by),
                    can_change=policies.can_configure(actor) and a.pk != actor.pk)
        for a in authors
    ]


def training_roster(actor) -> list[TrainingRow]:
    """Who is marked as in training, for the approval-policies page."""
    if not policies.can_configure(actor):
        return []
    return _training_rows(actor, list(_training_qs(actor)))


def training_row(actor, author_id: int) -> TrainingRow:
    """One author's row, if this person may see it on the training list; 404 otherwise."""
    author = _training_qs(actor).filter(pk=author_id).first() if policies.can_configure(actor) else None
    if author is None:
        raise Http404("No such author")
    return _training_rows(actor, [author])[0]


def setting_changes(*, limit: int = 30) -> list[SettingChange]:
    """The latest changes to the approval settings, newest first."""
    return list(SettingChange.objects.select_related("actor")[:limit])


# --- department workspaces ----------------------------------------------------------------


def departments_for_user(user) -> list[Department]:
    """The departments whose workspace this user may open: their own, or all for admins."""
    qs = Department.objects.filter(kind__in=DEPARTMENT_KINDS)
    if not roles.is_admin(user):
        qs = qs.filter(members=user)
    return list(qs.order_by("name"))


def department_get_for_user(user, slug: str) -> Department:
    department = Department.objects.filter(slug=slug, kind__in=DEPARTMENT_KINDS).first()
    if department is None:
        raise Http404("No such department")
    if not roles.is_admin(user) and not department.members.filter(pk=user.pk).exists():
        raise Http404("No such department")
    return department


def department_queue(user, department: Department) -> QuerySet[Ticket]:
    """Tickets escalated to this department that the user may see, nearest deadline first.

    Each carries when it arrived here and when this department last wrote guidance on it.
    """
    arrived = TicketEvent.objects.filter(
        ticket=OuterRef("pk"), kind=TicketEvent.Kind.TRANSITION, transition__in=["escalate", "transfer"]
    ).order_by("-created_at", "-pk")
    guidance = Note.objects.filter(
        ticket=OuterRef("pk"), is_guidance=True, department=department
    ).order_by("-created_at", "-pk")
    return (
        ticket_visible_qs(user)
        .filter(state=TicketState.ESCALATED, department=department)
        .select_related("channel", "customer", "assignee", "team", "department")
        .annotate(
            arrived_at=Subquery(arrived.values("created_at")[:1]),
            last_guidance_at=Subquery(guidance.values("created_at")[:1]),
        )
        .order_by(F("department_due").asc(nulls_last=True), "created_at", "pk")
    )


def department_counts(user, departments: list[Department]) -> dict[int, int]:
    rows = (
        ticket_visible_qs(user)
        .filter(state=TicketState.ESCALATED, department__in=departments)
        .values("department").annotate(n=Count("pk"))
    )
    return {row["department"]: row["n"] for row in rows}

