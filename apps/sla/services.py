"""SLA writes: clocks follow the ticket workflow, the sweep records alerts, actions follow.

- The three `sla_on_*` functions are subscribed to apps.tickets.hooks and run inside the
  ticket services' transactions: each loads the ticket's open clocks once (locked), changes
  them in memory and writes back in a handful of queries.
- `sla_sweep` finds the clocks that crossed their warning instant or deadline with two
  set-based statements and records each alert exactly once (unique constraint); the
  notifications and breach actions run afterwards in `sla_events_act`, once per alert.
- `sla_recompute` rebuilds deadlines from the clock events and the current configuration.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count, Prefetch, Q
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.accounts import roles
from apps.core.exceptions import ApplicationError, PermissionRefused
from apps.notifications.services import notification_create
from apps.tickets import policies as ticket_policies
from apps.tickets.models import (
    CARE_STATES,
    OPEN_STATES,
    PRIORITY_RANK,
    Message,
    Priority,
    SlaStatus,
    Ticket,
    TicketEvent,
    TicketState,
)
from apps.tickets.services import ticket_event_record, ticket_transition

from . import business_time as bt
from . import engine
from .models import (
    ALERT_KINDS,
    CUSTOMER_KINDS,
    PAUSABLE_KINDS,
    ClockKind,
    SlaClock,
    SlaEvent,
    SlaPolicy,
)

logger = logging.getLogger(__name__)

LIFECYCLE_KINDS = (
    SlaEvent.Kind.START, SlaEvent.Kind.PAUSE, SlaEvent.Kind.RESUME, SlaEvent.Kind.FULFIL,
    SlaEvent.Kind.STOP,
)
RESPONSE_KINDS = (ClockKind.FIRST_RESPONSE, ClockKind.NEXT_RESPONSE)
# Alerts whose actions have not run after this long are handed to a worker again.
ACT_RETRY_AFTER = timedelta(minutes=5)
ACT_CHUNK = 100


def _sweep_limit() -> int:
    return getattr(settings, "SLA_SWEEP_BATCH", 50_000)


# --- reads shared with other apps ------------------------------------------------------------


def approval_due(*, ticket: Ticket, submitted_at: datetime) -> datetime | None:
    """When a reply submitted for approval now must be decided (the policy's approval target).

    None when the ticket's policy sets no approval turnaround.
    """
    policy = engine.policy_for(ticket)
    target = policy.target("approval") if policy is not None else None
    if target is None:
        return None
    amount, calendar = target
    return bt.add_business_time(submitted_at, amount, engine.compiled_calendar(calendar))


# --- hooks: the workflow drives the clocks -----------------------------------------------------


# The ticket services emit inside their caller's transaction when there is one; atomic()
# without a savepoint joins it at no cost and makes a bare autocommit call atomic too.


@transaction.atomic(savepoint=False)
def sla_on_ticket_created(*, ticket: Ticket, at: datetime) -> None:
    """A new ticket: start first response and resolution, and the regulator's clock if flagged."""
    clocks = engine.TicketClocks.empty(ticket)
    policy = engine.policy_for(ticket)
    for kind in (ClockKind.FIRST_RESPONSE, ClockKind.RESOLUTION):
        clocks.start_from_policy(kind, policy, at=at)
    if ticket.is_formal_complaint:
        rule = engine.regulatory_rule_for(ticket.complaint_category, received_at=at)
        if rule is not None:
            clocks.start_regulatory(rule, at=at)
    clocks.save()


def _customer_is_owed_reply(ticket: Ticket) -> bool:
    last_in = ticket.last_customer_message_at
    return last_in is not None and (
        ticket.last_agent_reply_at is None or last_in > ticket.last_agent_reply_at
    )


def _start_next_response(clocks: engine.TicketClocks, policy_cache: list, *, at: datetime) -> None:
    """The customer is waiting for an answer: time it, unless a response clock already does."""
    if any(clocks.open(kind) for kind in RESPONSE_KINDS):
        return
    if not policy_cache:
        policy_cache.append(engine.policy_for(clocks.ticket))
    clocks.start_from_policy(ClockKind.NEXT_RESPONSE, policy_cache[0], at=at)


HANDLED_TRANSITIONS = {
    "wait_for_customer", "customer_replied", "escalate", "transfer", "return_to_care", "resolve",
    "reopen", "close",
}


@transaction.atomic(savepoint=False)
def sla_on_ticket_transitioned(
    *, ticket: Ticket, transition: str, from_state: str, to_state: str, actor, at: datetime,
    params: dict,
) -> None:
    """Pause, resume, fulfil, stop or start clocks as the ticket moves through the workflow."""
    if transition not in HANDLED_TRANSITIONS:
        return
    clocks = engine.TicketClocks.load(ticket)
    policy: list = []
    if transition == "wait_for_customer":
        for kind in PAUSABLE_KINDS:
            if clock := clocks.open(kind):
                clocks.pause(clock, at=at)
    elif transition == "customer_replied":
        for kind in PAUSABLE_KINDS:
            if clock := clocks.open(kind):
                clocks.resume(clock, at=at)
        if from_state == TicketState.RESOLVED:
            policy.append(engine.policy_for(ticket))
            clocks.start_from_policy(ClockKind.RESOLUTION, policy[0], at=at)
        _start_next_response(clocks, policy, at=at)
    elif transition in ("escalate", "transfer"):
        clocks.start_department(ticket.department, at=at)
    elif transition == "return_to_care":
        if clock := clocks.open(ClockKind.DEPARTMENT):
            clocks.end(clock, at=at, met=True)
    elif transition == "resolve":
        resolved_at = ticket.resolved_at or at
        for clock in clocks.open_clocks():
            met = clock.kind in (ClockKind.RESOLUTION, ClockKind.REGULATORY)
            clocks.end(clock, at=resolved_at, met=met, reason="" if met else "resolved")
    elif transition == "reopen":
        policy.append(engine.policy_for(ticket))
        clocks.start_from_policy(ClockKind.RESOLUTION, policy[0], at=at)
        if _customer_is_owed_reply(ticket):
            _start_next_response(clocks, policy, at=at)
    elif transition == "close":
        for clock in clocks.open_clocks():
            clocks.end(clock, at=ticket.closed_at or at, met=False, reason="closed")
    clocks.save()


@transaction.atomic(savepoint=False)
def sla_on_message_recorded(*, message: Message, at: datetime) -> None:
    """A customer message starts the next-response clock; a published reply fulfils it.

    Only messages actually sent to the customer are recorded as outbound, so internal notes
    never count; automatic messages (auto-acknowledgements) do not count either.
    """
    ticket = message.ticket
    if ticket.state not in OPEN_STATES:
        return
    if message.direction == Message.Direction.IN:
        clocks = engine.TicketClocks.load(ticket)
        _start_next_response(clocks, [], at=message.created_at)
        clocks.save()
    elif not message.is_automatic:
        clocks = engine.TicketClocks.load(ticket)
        for kind in RESPONSE_KINDS:
            if clock := clocks.open(kind):
                clocks.end(clock, at=message.created_at, met=True)
        clocks.save()


# --- formal complaints -------------------------------------------------------------------------


def ticket_formal_complaint_set(
    *, ticket: Ticket, category: str, actor, received_at: datetime | None = None
) -> Ticket:
    """Flag a ticket as a formal complaint of `category` and start the regulator's clock.

    The deadline counts from `received_at` (default: when the ticket was opened, i.e. when the
    complaint reached the bank). An empty category withdraws the flag and stops the clock; a
    different category replaces the clock. `actor` None is the system.
    """
    category = (category or "").strip()
    with transaction.atomic():
        locked = Ticket.objects.select_for_update(of=("self",)).select_related("channel").get(
            pk=ticket.pk
        )
        if actor is not None and not (
            ticket_policies.can_work_care(locked, actor)
            or ticket_policies.can_work_department(locked, actor)
        ):
            raise PermissionRefused(_("You are not allowed to do that on this ticket."))
        if locked.state not in OPEN_STATES:
            raise ApplicationError(_("Only an open ticket can be flagged as a formal complaint."))
        rule = None
        if category:
            rule = engine.regulatory_rule_for(category, received_at=received_at or locked.created_at)
            if rule is None:
                raise ApplicationError(_("There is no regulatory rule for that category."))
        if locked.is_formal_complaint == bool(category) and locked.complaint_category == category:
            return locked
        at = received_at or locked.created_at
        previous = locked.complaint_category
        Ticket.objects.filter(pk=locked.pk).update(
            is_formal_complaint=bool(category), complaint_category=category
        )
        locked.is_formal_complaint, locked.complaint_category = bool(category), category
        clocks = engine.TicketClocks.load(locked)
        if clock := clocks.open(ClockKind.REGULATORY):
            clocks.end(clock, at=timezone.now(), met=False, reason="category changed")
        due = None
        if rule is not None:
            due = clocks.start_regulatory(rule, at=at).due_at
        clocks.save()
        ticket_event_record(
            ticket=locked, kind=TicketEvent.Kind.SLA, actor=actor,
            reason=str(rule) if rule else _("No longer a formal complaint"),
            data={
                "formal_complaint": category, "previous_category": previous,
                "received_at": at.isoformat(), "regulatory_due": due.isoformat() if due else None,
            },
        )
    for name in ("is_formal_complaint", "complaint_category", "regulatory_due", "sla_due", "sla_status"):
        setattr(ticket, name, getattr(locked, name))
    return locked


# --- recompute ---------------------------------------------------------------------------------


def sla_recompute(
    *, ticket_ids: list[int] | None = None, now: datetime | None = None, chunk: int = 200
) -> int:
    """Rebuild the deadlines of open tickets from their clock events and the current config.

    Each clock is replayed from its start/pause/resume/fulfil/stop events with the target its
    ticket's policy (matched again, so a changed condition moves tickets between policies),
    department target or regulatory rule gives now. Clocks a policy no longer times stop; a
    first-response or resolution clock a policy now times is started retroactively, with the
    waits on the customer taken from the ticket's audit trail. Returns how many tickets changed.
    """
    now = now or timezone.now()
    qs = Ticket.objects.filter(state__in=OPEN_STATES)
    if ticket_ids is not None:
        qs = qs.filter(pk__in=list(ticket_ids))
    ids = list(qs.order_by("pk").values_list("pk", flat=True))
    policies = engine.active_policies()
    changed = 0
    for i in range(0, len(ids), chunk):
        with transaction.atomic():
            tickets = list(
                Ticket.objects.select_for_update(of=("self",))
                .select_related("channel", "department")
                .filter(pk__in=ids[i : i + chunk], state__in=OPEN_STATES)
                .order_by("pk")
            )
            by_ticket: dict[int, list[SlaClock]] = {t.pk: [] for t in tickets}
            clocks = (
                SlaClock.objects.select_for_update(of=("self",))
                .filter(ticket_id__in=list(by_ticket))
                .select_related("calendar", "department", "rule", "rule__calendar")
                .prefetch_related(
                    Prefetch(
                        "events",
                        # The order they were applied in, which is the order to replay them in.
                        queryset=SlaEvent.objects.filter(kind__in=LIFECYCLE_KINDS).order_by("pk"),
                        to_attr="lifecycle",
                    )
                )
                .order_by("pk")
            )
            for clock in clocks:
                by_ticket[clock.ticket_id].append(clock)
            for ticket in tickets:
                changed += _recompute_ticket(ticket, by_ticket[ticket.pk], policies, now)
    return changed


def _recompute_ticket(ticket: Ticket, all_clocks: list[SlaClock], policies, now: datetime) -> int:
    clocks = engine.TicketClocks(ticket, [c for c in all_clocks if c.is_open])
    policy = engine.policy_for(ticket, policies)
    changes: dict[str, str] = {}
    for clock in clocks.open_clocks():
        fixed_due = None
        if clock.kind in PAUSABLE_KINDS:
            target = policy.target(clock.kind) if policy is not None else None
            if target is None:
                clocks.end(clock, at=now, met=False, reason="no target")
                changes[clock.kind] = "stopped"
                continue
            config = (policy, target[1], target[0], policy.warning_percent)
        elif clock.kind == ClockKind.DEPARTMENT:
            dept_target = engine.department_target_for(clock.department) if clock.department else None
            if dept_target is None:
                clocks.end(clock, at=now, met=False, reason="no target")
                changes[clock.kind] = "stopped"
                continue
            config = (
                clock.policy, dept_target.calendar, timedelta(minutes=dept_target.minutes),
                dept_target.warning_percent,
            )
        else:
            rule = clock.rule if clock.rule is not None and clock.rule.is_active else None
            if rule is None:
                clocks.end(clock, at=now, met=False, reason="no rule")
                changes[clock.kind] = "stopped"
                continue
            config = (clock.policy, rule.calendar, None, rule.warning_percent)
            fixed_due = engine.regulatory_due(rule, clock.started_at)
        before = (clock.policy_id, clock.calendar_id, clock.target, clock.warning_percent)
        clock.policy, clock.calendar, clock.target, clock.warning_percent = config
        config_changed = before != (clock.policy_id, clock.calendar_id, clock.target, clock.warning_percent)
        if clocks.rebuild(clock, clock.lifecycle, now=now, fixed_due=fixed_due) or config_changed:
            clocks.dirty[clock.pk] = clock
            changes[clock.kind] = clock.due_at.isoformat() if clock.due_at else clock.state
    kinds_ever = {c.kind for c in all_clocks}
    if policy is not None:
        for kind in _retroactive_kinds(ticket, kinds_ever, policy):
            clock = _start_retroactively(clocks, ticket, kind, policy)
            changes[kind] = clock.due_at.isoformat() if clock.due_at else clock.state
    if changes:
        clocks.add_event(
            None, SlaEvent.Kind.RECOMPUTE, now, {"policy": policy.pk if policy else None, **changes}
        )
    clocks.save(now=now)
    return 1 if changes else 0


def _retroactive_kinds(ticket: Ticket, kinds_ever: set[str], policy: SlaPolicy) -> list[str]:
    kinds = []
    if (
        ClockKind.FIRST_RESPONSE not in kinds_ever
        and ticket.first_response_at is None
        and policy.target(ClockKind.FIRST_RESPONSE) is not None
    ):
        kinds.append(ClockKind.FIRST_RESPONSE)
    if (
        ClockKind.RESOLUTION not in kinds_ever
        and policy.target(ClockKind.RESOLUTION) is not None
        and not TicketEvent.objects.filter(ticket=ticket, transition="resolve").exists()
    ):
        kinds.append(ClockKind.RESOLUTION)
    return kinds


def _start_retroactively(clocks: engine.TicketClocks, ticket: Ticket, kind: str, policy) -> SlaClock:
    """Start a clock at the ticket's opening, replaying its waits on the customer."""
    clock = clocks.start_from_policy(kind, policy, at=ticket.created_at)
    waits = TicketEvent.objects.filter(
        ticket=ticket, kind=TicketEvent.Kind.TRANSITION,
        transition__in=["wait_for_customer", "customer_replied"],
    ).order_by("created_at", "pk")
    for event in waits:
        if event.transition == "wait_for_customer":
            clocks.pause(clock, at=event.created_at)
        else:
            clocks.resume(clock, at=event.created_at)
    return clock


# --- sweep -------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    warnings: list[int] = field(default_factory=list)
    breaches: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)

    @property
    def event_ids(self) -> list[int]:
        return [*self.breaches, *self.warnings, *self.requeued]


_PENDING = {
    SlaEvent.Kind.BREACH: (
        "c.state = 'running' AND c.breached_at IS NULL AND c.due_at <= %(now)s", "due_at",
    ),
    SlaEvent.Kind.WARNING: (
        "c.state = 'running' AND c.warned_at IS NULL AND c.warn_at <= %(now)s"
        " AND (c.due_at IS NULL OR c.due_at > %(now)s)",
        "warn_at",
    ),
}


def _sweep_postgres(kind: str, now, limit: int) -> list[int]:
    """One statement: claim crossing clocks, insert their alerts, flag clocks and tickets.

    Tickets and clocks are locked with SKIP LOCKED, so the sweep never waits on a workflow
    transaction (that clock is picked up by the next sweep) nor on another sweep; the insert
    is ON CONFLICT DO NOTHING against the one-alert-per-clock constraint, and only the alerts
    this statement actually inserted are returned and acted on.
    """
    pending, column = _PENDING[kind]
    clock_t, event_t, ticket_t = SlaClock._meta.db_table, SlaEvent._meta.db_table, Ticket._meta.db_table
    if kind == SlaEvent.Kind.BREACH:
        flag = "breached_at = %(now)s, warned_at = COALESCE(c2.warned_at, %(now)s)"
        status = "sla_status = 'breached'"
        status_guard = "t2.sla_status <> 'breached'"
    else:
        flag = "warned_at = %(now)s"
        status = "sla_status = 'warning'"
        status_guard = "t2.sla_status IN ('none', 'ok')"
    # Table names come from model metadata and the fragments from _PENDING: no outside input.
    # Every step after the range scan reaches its rows through a primary key with
    # `= ANY(ARRAY(…))`: index lookups whatever the planner guesses about the CTEs, so the cost
    # stays linear in the clocks crossing and never touches the rest of the tables.
    sql = f"""
        WITH cand AS MATERIALIZED (
            SELECT c.id FROM {clock_t} c WHERE {pending} ORDER BY c.{column} LIMIT %(limit)s
        ), cl AS MATERIALIZED (
            SELECT c.id, c.ticket_id, c.kind, c.generation, c.{column} AS crossed
            FROM {clock_t} c JOIN {ticket_t} t ON t.id = c.ticket_id
            WHERE c.id = ANY(ARRAY(SELECT id FROM cand)) AND {pending}
            FOR UPDATE OF c, t SKIP LOCKED
        ), ev AS (
            INSERT INTO {event_t} (ticket_id, clock_id, kind, generation, at, data, created_at)
            SELECT cl.ticket_id, cl.id, %(kind)s, cl.generation, cl.crossed,
                   jsonb_build_object('clock', cl.kind), %(now)s
            FROM cl
            ON CONFLICT DO NOTHING
            RETURNING id, clock_id, ticket_id, data ->> 'clock' AS clock_kind
        ), uc AS (
            UPDATE {clock_t} c2 SET {flag} WHERE c2.id = ANY(ARRAY(SELECT clock_id FROM ev))
        ), ut AS (
            UPDATE {ticket_t} t2 SET {status}
            WHERE t2.id = ANY(ARRAY(
                SELECT ticket_id FROM ev WHERE clock_kind = ANY(%(customer_kinds)s)
            )) AND {status_guard}
        )
        SELECT id FROM ev
    """  # noqa: S608
    params = {"now": now, "limit": limit, "kind": kind, "customer_kinds": list(CUSTOMER_KINDS)}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def _sweep_generic(kind: str, now, limit: int) -> list[int]:
    """The same on a database with one writer at a time (SQLite): insert, then flag."""
    pending, column = _PENDING[kind]
    clock_t, event_t = SlaClock._meta.db_table, SlaEvent._meta.db_table
    db_now = connection.ops.adapt_datetimefield_value(now)
    sql = f"""
        INSERT INTO {event_t} (ticket_id, clock_id, kind, generation, at, data, created_at)
        SELECT c.ticket_id, c.id, %(kind)s, c.generation, c.{column},
               json_object('clock', c.kind), %(now)s
        FROM {clock_t} c WHERE {pending} ORDER BY c.{column} LIMIT %(limit)s
        ON CONFLICT DO NOTHING
        RETURNING id, clock_id
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, {"now": db_now, "limit": limit, "kind": kind})
        rows = cursor.fetchall()
    clock_ids = [clock_id for _id, clock_id in rows]
    for i in range(0, len(clock_ids), 500):
        part = clock_ids[i : i + 500]
        clocks = SlaClock.objects.filter(pk__in=part)
        if kind == SlaEvent.Kind.BREACH:
            clocks.update(breached_at=now, warned_at=Coalesce("warned_at", now))
        else:
            clocks.update(warned_at=now)
        ticket_ids = SlaClock.objects.filter(pk__in=part, kind__in=CUSTOMER_KINDS).values("ticket_id")
        if kind == SlaEvent.Kind.BREACH:
            Ticket.objects.filter(pk__in=ticket_ids).exclude(sla_status=SlaStatus.BREACHED).update(
                sla_status=SlaStatus.BREACHED
            )
        else:
            Ticket.objects.filter(
                pk__in=ticket_ids, sla_status__in=[SlaStatus.NONE, SlaStatus.OK]
            ).update(sla_status=SlaStatus.WARNING)
    return [event_id for event_id, _clock in rows]


def sla_sweep(*, now: datetime | None = None, limit: int | None = None) -> SweepResult:
    """Record every warning and breach that is due, exactly once, and queue their actions.

    Breaches first (a clock that crossed both thresholds since the last sweep gets only the
    breach). Alerts whose actions never ran (a lost task) are queued again after a while.
    """
    now = now or timezone.now()
    limit = limit or _sweep_limit()
    record = _sweep_postgres if connection.vendor == "postgresql" else _sweep_generic
    with transaction.atomic():
        result = SweepResult(
            breaches=record(SlaEvent.Kind.BREACH, now, limit),
            warnings=record(SlaEvent.Kind.WARNING, now, limit),
        )
        result.requeued = list(
            SlaEvent.objects.filter(
                kind__in=ALERT_KINDS, handled_at__isnull=True, created_at__lte=now - ACT_RETRY_AFTER
            )
            .order_by("created_at")
            .values_list("pk", flat=True)[:limit]
        )
        ids = result.event_ids
        if ids:
            from .tasks import sla_events_act

            for i in range(0, len(ids), ACT_CHUNK):
                sla_events_act.delay_on_commit(ids[i : i + ACT_CHUNK])
    if ids:
        logger.info(
            "SLA sweep: %d breaches, %d warnings, %d re-queued",
            len(result.breaches), len(result.warnings), len(result.requeued),
        )
    return result


# --- actions -----------------------------------------------------------------------------------


def sla_events_act(*, event_ids: list[int], now: datetime | None = None) -> int:
    """Carry out the actions of recorded alerts, each exactly once; returns how many ran.

    The alerts are claimed with SELECT … FOR UPDATE SKIP LOCKED and marked handled in the same
    transaction, so two workers never act on one alert; notifications are keyed by alert and
    user as well. Each alert acts inside its own savepoint: one that fails stays unhandled (the
    sweep queues it again later) without undoing the others. An alert whose clock has ended
    meanwhile (met, stopped, recomputed) is marked handled without notifying anybody.
    """
    now = now or timezone.now()
    with transaction.atomic():
        events = list(
            SlaEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related(
                "clock", "clock__policy", "clock__department", "clock__rule", "ticket",
                "ticket__channel", "ticket__team", "ticket__assignee", "ticket__department",
            )
            .filter(pk__in=list(event_ids), kind__in=ALERT_KINDS, handled_at__isnull=True)
            .order_by("pk")
        )
        people = _People()
        handled = []
        for event in events:
            try:
                with transaction.atomic():
                    data = _act(event, people)
            except Exception:
                logger.exception("SLA alert %s: actions failed, will be retried", event.pk)
                continue
            event.data, event.handled_at = data, now
            handled.append(event)
        if handled:
            SlaEvent.objects.bulk_update(handled, ["data", "handled_at"])
    return len(handled)


class _People:
    """Users met while acting on one batch of alerts, loaded once each.

    Reusing the same user objects keeps their role and membership caches (used by the
    visibility rule) for the whole batch.
    """

    def __init__(self):
        self.users: dict[int, object] = {}
        self.leads: dict[int, list] = {}
        self.members: dict[int, list] = {}

    def same(self, user):
        return self.users.setdefault(user.pk, user)

    def leads_of(self, team_id: int | None) -> list:
        """Active leads of the team, least busy first (the one an escalation goes to)."""
        if team_id is None:
            return []
        if team_id not in self.leads:
            leads = (
                get_user_model()
                .objects.filter(teams=team_id, groups__name=roles.LEAD, is_active=True)
                .annotate(
                    load=Count(
                        "assigned_tickets", filter=Q(assigned_tickets__state__in=OPEN_STATES),
                        distinct=True,
                    )
                )
                .order_by("load", "pk")
                .distinct()
            )
            self.leads[team_id] = [self.same(u) for u in leads]
        return self.leads[team_id]

    def members_of(self, department) -> list:
        if department.pk not in self.members:
            self.members[department.pk] = [
                self.same(u) for u in department.members.filter(is_active=True)
            ]
        return self.members[department.pk]


def _still_current(event: SlaEvent) -> bool:
    clock = event.clock
    if clock is None or not clock.is_open or clock.generation != event.generation:
        return False
    return event.ticket.state in OPEN_STATES


def _recipients(event: SlaEvent, policy: SlaPolicy | None, people: _People) -> list:
    ticket, clock = event.ticket, event.clock
    wanted = []
    if ticket.assignee is not None and ticket.assignee.is_active:
        wanted.append(people.same(ticket.assignee))
    if clock.kind == ClockKind.DEPARTMENT and clock.department is not None:
        wanted += people.members_of(clock.department)
    if policy is None or policy.notify_lead or not wanted:
        wanted += people.leads_of(ticket.team_id)
    unique = {}
    for person in wanted:
        if person.pk not in unique and ticket_policies.can_view(ticket, person):
            unique[person.pk] = person
    return list(unique.values())


def _alert_text(event: SlaEvent) -> tuple[str, str]:
    clock, ticket = event.clock, event.ticket
    label = clock.get_kind_display()
    if clock.kind == ClockKind.DEPARTMENT and clock.department is not None:
        label = _("%(dept)s answer") % {"dept": clock.department}
    due = timezone.localtime(clock.due_at).strftime("%Y-%m-%d %H:%M") if clock.due_at else "—"
    if event.kind == SlaEvent.Kind.BREACH:
        title = _("%(ref)s: %(clock)s deadline missed") % {"ref": ticket.reference, "clock": label}
        body = _("The deadline was %(due)s. %(subject)s") % {"due": due, "subject": ticket.subject}
    else:
        title = _("%(ref)s: %(clock)s due soon") % {"ref": ticket.reference, "clock": label}
        body = _("Due %(due)s. %(subject)s") % {"due": due, "subject": ticket.subject}
    return title, body


def _act(event: SlaEvent, people: _People) -> dict:
    """Notify, raise priority, escalate to a lead; returns what was done, for the record."""
    data = dict(event.data)
    if not _still_current(event):
        data["skipped"] = "clock ended or changed before the alert was acted on"
        return data
    ticket, clock = event.ticket, event.clock
    policy = clock.policy or engine.policy_for(ticket)
    notified = []
    for user in _recipients(event, policy, people):
        with translation.override(user.language or settings.LANGUAGE_CODE):
            title, body = _alert_text(event)
        note = notification_create(
            user=user, ticket=ticket, kind=f"sla_{event.kind}", title=title, body=body,
            dedupe_key=f"sla:{event.pk}:{user.pk}", email=True,
        )
        if note is not None:
            notified.append(user.username)
    data["notified"] = notified
    if event.kind != SlaEvent.Kind.BREACH or clock.kind not in CUSTOMER_KINDS or policy is None:
        return data
    if policy.raise_priority_on_breach:
        raised = _raise_priority(ticket, clock)
        if raised:
            data["priority"] = raised
    if policy.escalate_to_lead_on_breach:
        lead = _escalate_to_lead(ticket, clock, people.leads_of(ticket.team_id))
        if lead:
            data["assigned_to"] = lead
    return data


def _raise_priority(ticket: Ticket, clock: SlaClock) -> str | None:
    order = sorted(PRIORITY_RANK, key=PRIORITY_RANK.get)
    current = Priority(ticket.priority)
    position = order.index(current)
    if position + 1 >= len(order):
        return None
    higher = order[position + 1]
    if not Ticket.objects.filter(pk=ticket.pk, priority=current).update(priority=higher):
        return None
    ticket.priority = higher
    ticket_event_record(
        ticket=ticket, kind=TicketEvent.Kind.SLA,
        reason=_("%(clock)s deadline missed: priority raised") % {"clock": clock.get_kind_display()},
        data={"clock": clock.kind, "priority_from": str(current), "priority_to": str(higher)},
    )
    return str(higher)


def _escalate_to_lead(ticket: Ticket, clock: SlaClock, leads: list) -> str | None:
    """Assign the ticket to the least busy lead of its team (the system may always assign)."""
    if ticket.state not in CARE_STATES or not leads:
        return None
    if ticket.assignee_id in {lead.pk for lead in leads}:
        return None
    candidates = [lead for lead in leads if ticket_policies.can_view(ticket, lead)]
    if not candidates:
        return None
    lead = candidates[0]
    fresh = Ticket.objects.get(pk=ticket.pk)
    try:
        ticket_transition(
            ticket=fresh, transition="assign", actor=None, assignee=lead,
            reason=_("%(clock)s deadline missed") % {"clock": clock.get_kind_display()},
            data={"sla_clock": clock.kind},
        )
    except ApplicationError as exc:
        logger.info("SLA escalation of %s to %s refused: %s", ticket.reference, lead, exc.message)
        return None
    return lead.username

