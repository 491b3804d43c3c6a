"""Reads of the agent workspace: the queue (views, filters, search) and canned replies.

Every queue read starts from `ticket_visible_qs`, so confidential tickets never reach a list,
a count or a search result of someone who may not see them.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Substr

from apps.accounts.models import Department, Team
from apps.tickets import policies
from apps.tickets.models import OPEN_STATES, Identity, Message, Ticket
from apps.tickets.selectors import ticket_visible_qs

from . import policies as workspace_policies
from .models import PLACEHOLDER_RE, CannedReply

VIEW_MINE = "mine"
VIEW_TEAM = "team"
VIEW_ALL = "all"
VIEWS = (VIEW_MINE, VIEW_TEAM, VIEW_ALL)
STATE_ACTIVE = ""
STATE_ANY = "any"
SLA_BREACHED = "breached"
SLA_WITHIN = {"15": timedelta(minutes=15), "60": timedelta(minutes=60)}
EXCERPT_CHARS = 240
_REFERENCE_RE = re.compile(r"^\s*(?:ct-?)?0*(\d{1,12})\s*$", re.IGNORECASE)
_WORD_RE = re.compile(r"\w+", re.UNICODE)
MAX_SEARCH_TERMS = 8
# What a queue row shows: the wide columns (JSON triage explanation, post context) stay behind.
QUEUE_ROW_FIELDS = (
    "subject", "state", "priority", "intent", "sentiment", "language", "confidential", "sla_due",
    "regulatory_due",
    "created_at", "team_id", "department__name", "channel__kind", "channel__name",
    "customer__display_name", "assignee__username", "assignee__first_name", "assignee__last_name",
)


@dataclass(frozen=True)
class QueueFilters:
    view: str = VIEW_ALL
    q: str = ""
    channel: str = ""
    state: str = STATE_ACTIVE
    priority: str = ""
    intent: str = ""
    language: str = ""
    sentiment: str = ""
    team: int | None = None
    department: int | None = None
    sla: str = ""


def _view_q(user, view: str) -> Q:
    if view == VIEW_MINE:
        return Q(assignee_id=user.pk)
    if view == VIEW_TEAM:
        # The membership the visibility rule already loaded for this request: no extra query.
        team_ids, dept_ids, _conf, _led = policies._membership(user)
        return Q(assignee__isnull=True) & (
            Q(team_id__in=sorted(team_ids))
            | Q(state="escalated", department_id__in=sorted(dept_ids))
        )
    return Q()


def _search_q(text: str) -> Q:
    """Subject, message text and customer handle or name; a reference like CT-000123 matches too."""
    text = text.strip()
    condition = Q()
    reference = _REFERENCE_RE.match(text)
    if reference:
        condition |= Q(pk=int(reference.group(1)))
    handle = text.lstrip("@")
    customers = Identity.objects.filter(handle__icontains=handle).values("customer_id")
    condition |= Q(customer_id__in=customers) | Q(customer__display_name__icontains=text)
    if settings.IS_POSTGRES:
        from django.contrib.postgres.search import SearchQuery, SearchVector

        terms = _WORD_RE.findall(text)[:MAX_SEARCH_TERMS]
        if terms:
            # Prefix match on every word: agents type the start of a word ("rimbors…").
            # Only \w characters reach the raw query, so the input cannot change its syntax.
            query = SearchQuery(" & ".join(f"{t}:*" for t in terms), config="simple", search_type="raw")
            messages = (
                Message.objects.alias(document=SearchVector("body", config="simple"))
                .filter(document=query)
                .values("ticket_id")
            )
            condition |= Q(subject_document=query) | Q(pk__in=messages)
    else:
        messages = Message.objects.filter(body__icontains=text).values("ticket_id")
        condition |= Q(subject__icontains=text) | Q(pk__in=messages)
    return condition


def _filtered(user, filters: QueueFilters, now: datetime) -> QuerySet[Ticket]:
    qs = ticket_visible_qs(user)
    if filters.state == STATE_ACTIVE:
        qs = qs.filter(state__in=OPEN_STATES)
    elif filters.state != STATE_ANY:
        qs = qs.filter(state=filters.state)
    for field in ("priority", "intent", "language", "sentiment"):
        value = getattr(filters, field)
        if value:
            qs = qs.filter(**{field: value})
    if filters.channel:
        qs = qs.filter(channel__kind=filters.channel)
    if filters.team is not None:
        qs = qs.filter(team_id=filters.team)
    if filters.department is not None:
        qs = qs.filter(department_id=filters.department)
    if filters.sla == SLA_BREACHED:
        qs = qs.filter(sla_due__lt=now)
    elif filters.sla in SLA_WITHIN:
        qs = qs.filter(sla_due__gte=now, sla_due__lt=now + SLA_WITHIN[filters.sla])
    if filters.q.strip():
        if settings.IS_POSTGRES:
            from django.contrib.postgres.search import SearchVector

            qs = qs.alias(subject_document=SearchVector("subject", config="simple"))
        qs = qs.filter(_search_q(filters.q))
    return qs


def queue_tickets(user, filters: QueueFilters, *, now: datetime) -> QuerySet[Ticket]:
    """One view of the queue, next deadline first; rows carry what the list shows (1 query)."""
    latest_inbound = (
        Message.objects.filter(ticket=OuterRef("pk"), direction=Message.Direction.IN)
        .order_by("-created_at", "-pk")
        .annotate(excerpt=Substr("body", 1, EXCERPT_CHARS))
        .values("excerpt")[:1]
    )
    return (
        _filtered(user, filters, now)
        .filter(_view_q(user, filters.view))
        .select_related("channel", "customer", "assignee", "department")
        .only(*QUEUE_ROW_FIELDS)
        .annotate(excerpt=Subquery(latest_inbound))
        .order_by(F("sla_due").asc(nulls_last=True), "-created_at", "-pk")
    )


def queue_counts(user, filters: QueueFilters, *, now: datetime) -> dict[str, int]:
    """How many tickets each view holds under the current filters (1 query).

    Counted over `confidential`, a NOT NULL column of the covering index of migration 0004,
    rather than the id: PostgreSQL then answers from that index alone, without the rows.
    """
    return _filtered(user, filters, now).aggregate(
        mine=Count("confidential", filter=_view_q(user, VIEW_MINE)),
        team=Count("confidential", filter=_view_q(user, VIEW_TEAM)),
        all=Count("confidential"),
    )


def queue_filter_choices(user) -> dict[str, list[tuple[int, str]]]:
    """Teams and departments to filter by (one query); confidential departments only for those
    who may read them."""
    teams = Team.objects.annotate(
        kind=Value("team"), confidential=Value(False)
    ).values_list("kind", "pk", "name", "confidential").order_by()
    departments = (
        Department.objects.exclude(kind=Department.Kind.CARE)
        .annotate(group=Value("department"))
        .values_list("group", "pk", "name", "confidential")
        .order_by()
    )
    rows = sorted(teams.union(departments, all=True), key=lambda row: row[2].lower())
    reader = policies.is_confidential_reader(user)
    return {
        "teams": [(pk, name) for group, pk, name, _conf in rows if group == "team"],
        "departments": [(pk, name) for group, pk, name, conf in rows
                        if group == "department" and (reader or not conf)],
    }


# --- canned replies ------------------------------------------------------------------------


def ticket_reply_language(ticket: Ticket) -> str:
    """The language to answer in: the ticket's, else the customer's, else the team's default."""
    codes = {code for code, _name in settings.LANGUAGES}
    for candidate in (
        ticket.language,
        ticket.customer.language if ticket.customer_id else "",
        ticket.team.default_language if ticket.team_id else "",
    ):
        code = (candidate or "").split("-")[0].lower()
        if code in codes:
            return code
    return settings.LANGUAGE_CODE


def canned_replies_for_ticket(
    ticket: Ticket, *, q: str = "", language: str = "", limit: int = 30
) -> list[CannedReply]:
    """Active replies in the customer's language (or `language`) for the ticket's team or all teams."""
    qs = CannedReply.objects.filter(
        Q(team__isnull=True) | Q(team_id=ticket.team_id),
        is_active=True,
        language=language or ticket_reply_language(ticket),
    )
    if q.strip():
        qs = qs.filter(name__icontains=q.strip())
    return list(qs.order_by("name")[:limit])


def canned_reply_for_ticket(ticket: Ticket, pk: int) -> CannedReply | None:
    """A reply usable on this ticket (active, the ticket's team or shared), in any language."""
    return (
        CannedReply.objects.filter(Q(team__isnull=True) | Q(team_id=ticket.team_id), is_active=True)
        .filter(pk=pk)
        .first()
    )


def _customer_name(ticket: Ticket) -> str:
    customer = ticket.customer
    if customer.display_name:
        return customer.display_name
    identity = customer.identities.order_by("pk").first()
    return identity.label if identity else ""


def canned_reply_fill(canned: CannedReply, *, ticket: Ticket, user) -> str:
    """The reply text with its placeholders filled; unknown {words} are left exactly as written."""
    values = {
        "customer_name": _customer_name(ticket),
        "ticket_ref": ticket.reference,
        "agent_first_name": user.first_name or user.username,
    }
    return PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), m.group(0)), canned.body)


def canned_replies_for_manager(user, *, language: str = "", team: Team | None = None):
    """The canned replies a lead or admin sees on the management page."""
    if not workspace_policies.can_manage_canned_replies(user):
        return CannedReply.objects.none()
    teams = workspace_policies.manageable_teams(user)
    qs = CannedReply.objects.filter(Q(team__isnull=True) | Q(team__in=teams)).select_related(
        "team", "updated_by"
    )
    if language:
        qs = qs.filter(language=language)
    if team is not None:
        qs = qs.filter(team=team)
    return qs.order_by("team__name", "name", "language")
