"""SLA writes: clocks follow the ticket workflow, the sweep records alerts, actions follow.

- The three `sla_on_*` functions are subscribed to apps.tickets.hooks and run inside the
  ticket services' transactions: each loads the ticket's open clocks once (locked), changes
  them in memory and writes back in a handful of queries.
- `sla_sweep` finds the clocks that crossed their warning instant or deadline with two
  set-based statements and records each alert exactly once (unique constraint); the
  notifications and breach actions run afterwards in `sla_events_act`, once per alert.
- `sla_recompute` rebuilds deadlines from the clock events and the current configuration;
  `sla_ticket_rematch` does it for one ticket whose priority or formal-complaint flag changed.
- `sla_on_ticket_merged` keeps timing a customer's wait when their ticket is merged.
- The sweep also records the approval turnaround of replies waiting for a reviewer
  (`ApprovalAlert`, once per submission); `sla_approval_alerts_act` notifies.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count, Exists, Min, OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import Coalesce
from django.urls import reverse
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
    ApprovalAlert,
    ClockKind,
    ClockState,
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
def sla_on_tickets_created(*, tickets: list[Ticket]) -> None:
    """New tickets: start first response and resolution, and the regulator's clock if flagged.

    The policies are read once for all of them, and every clock, event and deadline column is
    written in one statement each, however many tickets arrived together.
    """
    policies = engine.active_policies()
    sets = []
    for ticket in tickets:
        at = ticket.created_at
        clocks = engine.TicketClocks.empty(ticket)
        policy = engine.policy_for(ticket, policies)
        for kind in (ClockKind.FIRST_RESPONSE, ClockKind.RESOLUTION):
            clocks.start_from_policy(kind, policy, at=at)
        if ticket.is_formal_complaint:
            rule = engine.regulatory_rule_for(ticket.complaint_category, received_at=at)
            if rule is not None:
                clocks.start_regulatory(rule, at=at)
        sets.append(clocks)
    engine.TicketClocks.save_many(sets)


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
        # A ticket merged into another is closed through resolve, but nothing was resolved for
        # the customer: its clocks stop (the wait goes on in the target), none is met.
        merged = ticket.merged_into_id is not None
        for clock in clocks.open_clocks():
            met = not merged and clock.kind in (ClockKind.RESOLUTION, ClockKind.REGULATORY)
            reason = "merged" if merged else ("" if met else "resolved")
            clocks.end(clock, at=resolved_at, met=met, reason=reason)
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
def sla_on_messages_recorded(*, messages: list[Message]) -> None:
    """A customer message starts the next-response clock; a published reply fulfils it.

    Only messages actually sent to the customer are recorded as outbound, so internal notes
    never count; automatic messages (auto-acknowledgements) do not count either. The clocks of
    all the messages' tickets are loaded in one query and saved together.
    """
    counted = [
        m for m in messages
        if m.ticket.state in OPEN_STATES and (m.direction == Message.Direction.IN or not m.is_automatic)
    ]
    if not counted:
        return
    tickets = list({m.ticket.pk: m.ticket for m in counted}.values())
    loaded = {clocks.ticket.pk: clocks for clocks in engine.TicketClocks.load_many(tickets)}
    for message in counted:
        clocks = loaded[message.ticket.pk]
        if message.direction == Message.Direction.IN:
            _start_next_response(clocks, [], at=message.created_at)
        else:
            for kind in RESPONSE_KINDS:
                if clock := clocks.open(kind):
                    clocks.end(clock, at=message.created_at, met=True)
    engine.TicketClocks.save_many(list(loaded.values()))


@transaction.atomic(savepoint=False)
def sla_on_ticket_merged(*, source: Ticket, target: Ticket, actor, at: datetime) -> None:
    """The source's thread joined the target: a customer still owed an answer is timed there.

    The source's clocks stopped when the merge resolved and closed it (reason "merged"). When
    the target now owes the customer an answer and no response clock runs on it, a next-response
    clock starts when the customer began waiting (their first message after the last published
    reply), so a merge never restarts a wait; the target's waits on the customer since then are
    replayed. A warning or breach the source already sent for that wait is carried over, not
    sent again.
    """
    if target.state not in OPEN_STATES or not _customer_is_owed_reply(target):
        return
    clocks = engine.TicketClocks.load(target)
    if any(clocks.open(kind) for kind in RESPONSE_KINDS):
        return
    policy = engine.policy_for(target)
    if policy is None or policy.target(ClockKind.NEXT_RESPONSE) is None:
        return
    clock = _start_retroactively(
        clocks, target, ClockKind.NEXT_RESPONSE, policy, at=_waiting_since(target)
    )
    _carry_alerts(clocks, clock, source=source, now=at)
    clocks.save(now=at)


def _waiting_since(ticket: Ticket) -> datetime | None:
    """When the customer began waiting: their first message after our last published reply."""
    inbound = Message.objects.filter(ticket_id=ticket.pk, direction=Message.Direction.IN)
    if ticket.last_agent_reply_at is not None:
        inbound = inbound.filter(created_at__gt=ticket.last_agent_reply_at)
    return inbound.aggregate(first=Min("created_at"))["first"] or ticket.last_customer_message_at


def _carry_alerts(clocks: engine.TicketClocks, clock: SlaClock, *, source: Ticket, now: datetime) -> None:
    """Mark alerts the merged source already sent for this wait as sent on the target's clock."""
    stopped = (
        SlaClock.objects.filter(ticket_id=source.pk, kind__in=RESPONSE_KINDS, state=ClockState.STOPPED)
        .order_by("-pk")
        .first()
    )
    if stopped is None:
        return
    events = list(
        SlaEvent.objects.filter(
            clock=stopped, kind__in=[*ALERT_KINDS, SlaEvent.Kind.STOP], generation=stopped.generation
        )
    )
    if not any(e.kind == SlaEvent.Kind.STOP and e.data.get("reason") == "merged" for e in events):
        return
    # Alerts the sweep sent; a "late" breach recorded when the clock stopped notified nobody.
    sent = {e.kind for e in events if e.kind in ALERT_KINDS and not e.data.get("late")}
    carried = []
    if SlaEvent.Kind.BREACH in sent and clock.due_at is not None and clock.due_at <= now:
        clock.breached_at = stopped.breached_at
        clock.warned_at = clock.warned_at or stopped.warned_at or stopped.breached_at
        carried.append((SlaEvent.Kind.BREACH, clock.due_at))
    elif SlaEvent.Kind.WARNING in sent and clock.warn_at is not None and clock.warn_at <= now:
        clock.warned_at = stopped.warned_at
        carried.append((SlaEvent.Kind.WARNING, clock.warn_at))
    for kind, crossed in carried:
        clocks.add_event(clock, kind, crossed, {"clock": clock.kind, "merged_from": source.reference})
        clocks.events[-1].handled_at = now  # acted on in the source already


# --- formal complaints -------------------------------------------------------------------------


def ticket_formal_complaint_set(
    *, ticket: Ticket, category: str, actor, received_at: datetime | None = None
) -> Ticket:
    """Flag a ticket as a formal complaint of `category` and start the regulator's clock.

    The deadline counts from `received_at` (default: when the ticket was opened, i.e. when the
    complaint reached the bank). An empty category withdraws the flag and stops the clock; a
    different category replaces the clock. Policies match on the flag, so the operational
    deadlines are recomputed with the policy that matches now (`sla_ticket_rematch`). `actor`
    None is the system.
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
        sla_ticket_rematch(ticket=locked, cause="formal_complaint")
        ticket_event_record(
            ticket=locked, kind=TicketEvent.Kind.SLA, actor=actor,
            reason=str(rule) if rule else _("No longer a formal complaint"),
            data={
                "formal_complaint": category, "previous_category": previous,
                "received_at": at.isoformat(), "regulatory_due": due.isoformat() if due else None,
            },
        )
    for name in ("is_formal_complaint", "complaint_category", *engine.TICKET_COLUMNS):
        setattr(ticket, name, getattr(locked, name))
    return locked


# --- recompute ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Config:
    """What a recompute matches tickets against, loaded once per run."""

    policies: list[SlaPolicy]
    rules: list

    @classmethod
    def load(cls) -> _Config:
        return cls(engine.active_policies(), engine.active_regulatory_rules())


def sla_recompute(
    *, ticket_ids: list[int] | None = None, now: datetime | None = None, chunk: int = 200
) -> int:
    """Rebuild the deadlines of open tickets from their clock events and the current config.

    Each clock is replayed from its start/pause/resume/fulfil/stop events with the target its
    ticket's policy (matched again, so a changed condition moves tickets between policies),
    department target or regulatory rule gives now (a complaint not classified yet takes the
    strictest active rule again). Clocks a policy no longer times stop; a first-response or
    resolution clock a policy now times is started retroactively, with the waits on the
    customer taken from the ticket's audit trail; a customer owed an answer with no response
    clock gets a next-response clock from when they began waiting; a formal complaint without a
    regulator's clock gets one from its opening. Returns how many tickets changed.
    """
    now = now or timezone.now()
    qs = Ticket.objects.filter(state__in=OPEN_STATES)
    if ticket_ids is not None:
        qs = qs.filter(pk__in=list(ticket_ids))
    ids = list(qs.order_by("pk").values_list("pk", flat=True))
    config = _Config.load()
    changed = 0
    for i in range(0, len(ids), chunk):
        with transaction.atomic():
            for ticket, clocks in _lock_with_clocks(ids[i : i + chunk]):
                changed += _recompute_ticket(ticket, clocks, config, now)
    return changed


def sla_ticket_rematch(*, ticket: Ticket, cause: str, now: datetime | None = None) -> bool:
    """Match the ticket's policy again after a fact policies match on changed; recompute it.

    For the services that change a ticket's priority or its formal-complaint flag, inside their
    transaction. The clocks are rebuilt from their events as `sla_recompute` rebuilds them (and
    audited the same way, by a `recompute` event that names the cause), with one difference: a
    clock whose breach is already recorded keeps it, so a deadline missed stays missed exactly
    once, while the running clocks take the new targets (a tighter deadline already past is
    recorded by the next sweep). The caller's instance gets the new SLA columns. Returns
    whether a deadline changed; a ticket no longer open is left alone.
    """
    now = now or timezone.now()
    with transaction.atomic(savepoint=False):
        locked = _lock_with_clocks([ticket.pk])
        if not locked:
            return False
        fresh, clocks = locked[0]
        changed = _recompute_ticket(fresh, clocks, _Config.load(), now, cause=cause, keep_breaches=True)
    for name in engine.TICKET_COLUMNS:
        setattr(ticket, name, getattr(fresh, name))
    return bool(changed)


def _lock_with_clocks(ids: list[int]) -> list[tuple[Ticket, list[SlaClock]]]:
    """These open tickets and all their clocks, locked, each clock with its lifecycle events."""
    tickets = list(
        Ticket.objects.select_for_update(of=("self",))
        .select_related("channel", "department")
        .filter(pk__in=ids, state__in=OPEN_STATES)
        .order_by("pk")
    )
    if not tickets:
        return []
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
    return [(t, by_ticket[t.pk]) for t in tickets]


def _recompute_ticket(
    ticket: Ticket, all_clocks: list[SlaClock], config: _Config, now: datetime, *,
    cause: str = "", keep_breaches: bool = False,
) -> int:
    clocks = engine.TicketClocks(ticket, [c for c in all_clocks if c.is_open])
    policy = engine.policy_for(ticket, config.policies)
    changes: dict[str, str] = {}
    for clock in clocks.open_clocks():
        if keep_breaches and clock.breached_at is not None:
            continue
        fixed_due = None
        rule = clock.rule
        if clock.kind in PAUSABLE_KINDS:
            target = policy.target(clock.kind) if policy is not None else None
            if target is None:
                clocks.end(clock, at=now, met=False, reason="no target")
                changes[clock.kind] = "stopped"
                continue
            setup = (policy, target[1], target[0], policy.warning_percent)
        elif clock.kind == ClockKind.DEPARTMENT:
            dept_target = engine.department_target_for(clock.department) if clock.department else None
            if dept_target is None:
                clocks.end(clock, at=now, met=False, reason="no target")
                changes[clock.kind] = "stopped"
                continue
            setup = (
                clock.policy, dept_target.calendar, timedelta(minutes=dept_target.minutes),
                dept_target.warning_percent,
            )
        else:
            rule = _regulatory_rule(ticket, clock.started_at, config.rules)
            if rule is None:
                clocks.end(clock, at=now, met=False, reason="no rule")
                changes[clock.kind] = "stopped"
                continue
            setup = (clock.policy, rule.calendar, None, rule.warning_percent)
            fixed_due = engine.regulatory_due(rule, clock.started_at)
        before = (clock.policy_id, clock.rule_id, clock.calendar_id, clock.target, clock.warning_percent)
        clock.policy, clock.calendar, clock.target, clock.warning_percent = setup
        clock.rule = rule
        config_changed = before != (
            clock.policy_id, clock.rule_id, clock.calendar_id, clock.target, clock.warning_percent
        )
        if clocks.rebuild(clock, clock.lifecycle, now=now, fixed_due=fixed_due) or config_changed:
            clocks.dirty[clock.pk] = clock
            changes[clock.kind] = clock.due_at.isoformat() if clock.due_at else clock.state
    kinds_ever = {c.kind for c in all_clocks}
    for clock in _start_missing_clocks(clocks, ticket, kinds_ever, policy, config.rules):
        changes[clock.kind] = clock.due_at.isoformat() if clock.due_at else clock.state
    if changes:
        data = {"policy": policy.pk if policy else None, **changes}
        if cause:
            data["cause"] = cause
        clocks.add_event(None, SlaEvent.Kind.RECOMPUTE, now, data)
    clocks.save(now=now)
    return 1 if changes else 0


def _regulatory_rule(ticket: Ticket, received_at: datetime, rules: list):
    """The rule timing the ticket's complaint now: its category's, or the strictest if none."""
    if not ticket.is_formal_complaint:
        return None
    return engine.regulatory_rule_for(ticket.complaint_category, received_at=received_at, rules=rules)


def _start_missing_clocks(
    clocks: engine.TicketClocks, ticket: Ticket, kinds_ever: set[str], policy: SlaPolicy | None,
    rules: list,
) -> list[SlaClock]:
    """Start, retroactively, the clocks the configuration now asks for and the ticket lacks."""
    started = []
    if policy is not None:
        if (
            ClockKind.FIRST_RESPONSE not in kinds_ever
            and ticket.first_response_at is None
            and policy.target(ClockKind.FIRST_RESPONSE) is not None
        ):
            started.append(_start_retroactively(
                clocks, ticket, ClockKind.FIRST_RESPONSE, policy, at=ticket.created_at
            ))
        if (
            ClockKind.RESOLUTION not in kinds_ever
            and policy.target(ClockKind.RESOLUTION) is not None
            and not TicketEvent.objects.filter(ticket=ticket, transition="resolve").exists()
        ):
            started.append(_start_retroactively(
                clocks, ticket, ClockKind.RESOLUTION, policy, at=ticket.created_at
            ))
        # The hooks time every wait for an answer; one that began while no policy timed it
        # (or whose clock a removed target stopped) is timed from when it began.
        if (
            policy.target(ClockKind.NEXT_RESPONSE) is not None
            and not any(clocks.open(kind) for kind in RESPONSE_KINDS)
            and _customer_is_owed_reply(ticket)
        ):
            started.append(_start_retroactively(
                clocks, ticket, ClockKind.NEXT_RESPONSE, policy, at=_waiting_since(ticket)
            ))
    if ClockKind.REGULATORY not in kinds_ever:
        rule = _regulatory_rule(ticket, ticket.created_at, rules)
        if rule is not None:
            started.append(clocks.start_regulatory(rule, at=ticket.created_at))
    return started


def _start_retroactively(
    clocks: engine.TicketClocks, ticket: Ticket, kind: str, policy, *, at: datetime
) -> SlaClock:
    """Start a clock at `at`, in the past, replaying the ticket's waits on the customer since."""
    clock = clocks.start_from_policy(kind, policy, at=at)
    waits = list(
        TicketEvent.objects.filter(
            ticket=ticket, kind=TicketEvent.Kind.TRANSITION,
            transition__in=["wait_for_customer", "customer_replied"],
        ).order_by("created_at", "pk")
    )
    earlier = [event for event in waits if event.created_at <= at]
    if earlier and earlier[-1].transition == "wait_for_customer":
        clocks.pause(clock, at=at)  # already waiting on the customer when the clock starts
    for event in waits[len(earlier):]:
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
    # ApprovalAlert ids: recorded by this sweep, or whose actions were lost.
    approvals: list[int] = field(default_factory=list)

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
    breach). Alerts whose actions never ran (a lost task) are queued again after a while. The
    approval turnaround of replies waiting for a reviewer is swept too (`_sweep_approvals`).
    """
    now = now or timezone.now()
    limit = limit or _sweep_limit()
    record = _sweep_postgres if connection.vendor == "postgresql" else _sweep_generic
    from .tasks import sla_approval_alerts_act, sla_events_act

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
        for i in range(0, len(ids), ACT_CHUNK):
            sla_events_act.delay_on_commit(ids[i : i + ACT_CHUNK])
        result.approvals = _sweep_approvals(now, limit)
        for i in range(0, len(result.approvals), ACT_CHUNK):
            sla_approval_alerts_act.delay_on_commit(result.approvals[i : i + ACT_CHUNK])
    if ids or result.approvals:
        logger.info(
            "SLA sweep: %d breaches, %d warnings, %d re-queued, %d approval alerts",
            len(result.breaches), len(result.warnings), len(result.requeued), len(result.approvals),
        )
    return result


# --- approval turnaround -------------------------------------------------------------------------


def _sweep_approvals(now: datetime, limit: int) -> list[int]:
    """Record the approval-turnaround warnings and breaches that are due, once per submission.

    Replies belong to apps.replies; this only reads the ones awaiting approval (few: a
    reviewer's queue, served by its (state, approval_due) index). A breach is found in SQL; the
    warning instant is the policy's warning share of the business time allowed, computed for
    the replies not warned yet. Rows are locked SKIP LOCKED (a sweep never waits for another)
    and the unique constraint keeps one alert per reply, submission and kind. Returns the ids
    of the alerts to act on: recorded now, or left unhandled by a lost task.
    """
    from apps.replies.models import Reply, ReplyState

    recorded = ApprovalAlert.objects.filter(reply=OuterRef("pk"), submitted_at=OuterRef("submitted_at"))
    awaiting = Reply.objects.select_for_update(skip_locked=True, of=("self",)).filter(
        state=ReplyState.AWAITING_APPROVAL, approval_due__isnull=False, submitted_at__isnull=False
    )
    alerts = [
        ApprovalAlert(
            reply_id=reply.pk, submitted_at=reply.submitted_at, kind=SlaEvent.Kind.BREACH,
            at=reply.approval_due, created_at=now,
        )
        for reply in awaiting.filter(approval_due__lte=now)
        .exclude(Exists(recorded.filter(kind=SlaEvent.Kind.BREACH)))
        .order_by("approval_due")
        .only("pk", "submitted_at", "approval_due")[:limit]
    ]
    not_warned = (
        awaiting.filter(approval_due__gt=now)
        .exclude(Exists(recorded.filter(kind=SlaEvent.Kind.WARNING)))
        .select_related("ticket__channel")
        .order_by("approval_due")[:limit]
    )
    policies = None
    for reply in not_warned:
        if policies is None:
            policies = engine.active_policies()
        warn_at = _approval_warn_at(reply, engine.policy_for(reply.ticket, policies))
        if warn_at <= now:
            alerts.append(ApprovalAlert(
                reply_id=reply.pk, submitted_at=reply.submitted_at, kind=SlaEvent.Kind.WARNING,
                at=warn_at, created_at=now,
            ))
    if alerts:
        ApprovalAlert.objects.bulk_create(alerts, ignore_conflicts=True)
    return list(
        ApprovalAlert.objects.filter(handled_at__isnull=True)
        .filter(Q(created_at=now) | Q(created_at__lte=now - ACT_RETRY_AFTER))
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def _approval_warn_at(reply, policy: SlaPolicy | None) -> datetime:
    """The instant the warning share of the reply's approval time has been used."""
    percent = policy.warning_percent if policy is not None else 75
    target = policy.target("approval") if policy is not None else None
    if target is None:
        return reply.submitted_at + (reply.approval_due - reply.submitted_at) * percent / 100
    calendar = engine.compiled_calendar(target[1])
    allowed = bt.business_time_between(reply.submitted_at, reply.approval_due, calendar)
    return bt.add_business_time(reply.submitted_at, allowed * percent / 100, calendar)


def sla_approval_alerts_act(*, alert_ids: list[int], now: datetime | None = None) -> int:
    """Notify the reviewers and the team's leads of approval alerts, each alert exactly once.

    Claimed FOR UPDATE SKIP LOCKED and marked handled in the same transaction, notifications
    keyed by alert and user; an alert whose reply was decided, recalled or submitted again
    meanwhile is marked handled without notifying anybody. Returns how many were handled.
    """
    people = _People()
    return _claim_and_act(
        ApprovalAlert.objects.select_related("reply", "reply__author", "reply__ticket", "reply__ticket__channel")
        .filter(pk__in=list(alert_ids), handled_at__isnull=True),
        lambda alert: _act_on_approval(alert, people), now=now or timezone.now(), what="Approval alert",
    )


def _claim_and_act(alerts: QuerySet, act, *, now: datetime, what: str) -> int:
    """Claim unhandled alerts (SELECT … FOR UPDATE SKIP LOCKED), act on each in its own
    savepoint and mark the ones that went through handled, with what `act` returned, in the
    same transaction. One that fails stays unhandled (the sweep queues it again later) without
    undoing the others. Returns how many were handled."""
    with transaction.atomic():
        claimed = list(alerts.select_for_update(skip_locked=True, of=("self",)).order_by("pk"))
        handled = []
        for alert in claimed:
            try:
                with transaction.atomic():
                    data = act(alert)
            except Exception:
                logger.exception("%s %s: actions failed, will be retried", what, alert.pk)
                continue
            alert.data, alert.handled_at = data, now
            handled.append(alert)
        if handled:
            alerts.model.objects.bulk_update(handled, ["data", "handled_at"])
    return len(handled)


def _act_on_approval(alert: ApprovalAlert, people: _People) -> dict:
    from apps.replies.models import ReplyState
    from apps.replies.selectors import reply_reviewers

    reply, data = alert.reply, dict(alert.data)
    if reply.state != ReplyState.AWAITING_APPROVAL or reply.submitted_at != alert.submitted_at:
        data["skipped"] = "the reply was decided, recalled or submitted again"
        return data
    ticket = reply.ticket
    # The people apps.replies asked to approve it when it was submitted.
    reviewers = [people.same(user) for user in reply_reviewers(reply)]
    leads = [lead for lead in people.leads_of(ticket.team_id) if ticket_policies.can_view(ticket, lead)]
    notified = []
    for user, is_reviewer in [*((u, True) for u in reviewers), *((u, False) for u in leads)]:
        with translation.override(user.language or settings.LANGUAGE_CODE):
            title, body = _approval_alert_text(alert)
        note = notification_create(
            user=user, kind=f"approval_{alert.kind}", title=title, body=body,
            # Reviewers work from their approval queue; a lead follows the ticket.
            ticket=None if is_reviewer else ticket,
            url=reverse("replies:approvals") if is_reviewer else "",
            dedupe_key=f"sla:approval:{alert.pk}:{user.pk}", email=True,
        )
        if note is not None:
            notified.append(user.username)
    data["notified"] = notified
    return data


def _approval_alert_text(alert: ApprovalAlert) -> tuple[str, str]:
    reply = alert.reply
    ref = reply.ticket.reference
    due = timezone.localtime(reply.approval_due).strftime("%Y-%m-%d %H:%M")
    if alert.kind == SlaEvent.Kind.BREACH:
        title = _("%(ref)s: a reply waited too long for approval") % {"ref": ref}
        body = _("The approval was due %(due)s. Written by %(author)s.") % {"due": due, "author": reply.author}
    else:
        title = _("%(ref)s: a reply's approval is due soon") % {"ref": ref}
        body = _("Approve or reject by %(due)s. Written by %(author)s.") % {"due": due, "author": reply.author}
    return title, body


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
    people = _People()
    return _claim_and_act(
        SlaEvent.objects.select_related(
            "clock", "clock__policy", "clock__department", "clock__rule", "ticket",
            "ticket__channel", "ticket__team", "ticket__assignee", "ticket__department",
        ).filter(pk__in=list(event_ids), kind__in=ALERT_KINDS, handled_at__isnull=True),
        lambda event: _act(event, people, now), now=now, what="SLA alert",
    )


class _People:
    """Users met while acting on one batch of alerts, loaded once each.

    Reusing the same user objects keeps their role and membership caches (used by the
    visibility rule) for the whole batch.
    """

    def __init__(self):
        self.users: dict[int, object] = {}
        self.leads: dict[int, list] = {}
        self.members: dict[int | str, list] = {}

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

    def confidential_readers(self, ticket: Ticket) -> list:
        """Who works a confidential ticket: its holding department when that is a confidential
        one, else the members of every confidential department (HR)."""
        department = ticket.department if ticket.department_id else None
        if department is not None and department.confidential:
            return self.members_of(department)
        if "confidential" not in self.members:
            self.members["confidential"] = [
                self.same(u) for u in get_user_model().objects.filter(
                    departments__confidential=True, is_active=True).distinct().order_by("pk")
            ]
        return self.members["confidential"]

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
    if ticket.confidential:
        # Care's leads cannot see it (and a care assignee was cleared when HR took it): the
        # people who work confidential cases are told instead, so an alert never goes unheard.
        wanted += people.confidential_readers(ticket)
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


def _act(event: SlaEvent, people: _People, now: datetime) -> dict:
    """Notify, raise priority, escalate to a lead; returns what was done, for the record.

    A raised priority can match a stricter policy: the ticket's deadlines follow it
    (`sla_ticket_rematch`), the breached clock stays breached, and a running clock whose
    tighter deadline is past already is breached by the next sweep. Priority only goes up and
    each clock breaches once, so this cannot loop.
    """
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
            sla_ticket_rematch(ticket=ticket, cause="priority", now=now)
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

