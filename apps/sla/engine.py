"""The clock engine: start, pause, resume and end clocks, and replay them from their events.

Everything here works on one ticket's clocks in memory (`TicketClocks`) and writes them back
in a handful of queries, because it runs inside the ticket services' transactions (hooks).
The incremental steps and the replay use the same arithmetic, so a deadline rebuilt from the
events is the deadline the hooks stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from apps.tickets.models import SlaStatus, Ticket

from . import business_time as bt
from .models import (
    CUSTOMER_KINDS,
    OPEN_CLOCK_STATES,
    Calendar,
    ClockKind,
    ClockState,
    DepartmentTarget,
    RegulatoryRule,
    SlaClock,
    SlaEvent,
    SlaPolicy,
)

logger = logging.getLogger(__name__)

# --- calendars -----------------------------------------------------------------------------

_compiled: dict[int, tuple[datetime, bt.BusinessCalendar]] = {}


def compiled_calendar(calendar: Calendar) -> bt.BusinessCalendar:
    """The pure calendar for a Calendar row, cached per process until the row changes."""
    hit = _compiled.get(calendar.pk)
    if hit is not None and hit[0] == calendar.updated_at:
        return hit[1]
    try:
        compiled = calendar.compile()
    except bt.CalendarError:
        # A calendar emptied by hand must not stop tickets from being created: its clocks
        # count every minute (the strictest reading) until somebody gives it opening hours.
        logger.error("SLA calendar %r has no opening hours: counting it as 24/7", calendar.name)
        compiled = bt.BusinessCalendar(tz=calendar.time_zone, always_open=True)
    _compiled[calendar.pk] = (calendar.updated_at, compiled)
    return compiled


# --- configuration lookups -----------------------------------------------------------------


def active_policies() -> list[SlaPolicy]:
    return list(
        SlaPolicy.objects.filter(Q(is_active=True) | Q(is_fallback=True)).select_related(
            "first_response_calendar", "next_response_calendar", "resolution_calendar",
            "approval_calendar",
        )
    )


def policy_for(ticket: Ticket, policies: list[SlaPolicy] | None = None) -> SlaPolicy | None:
    """The first active policy, by order, that matches the ticket; else the fallback."""
    if policies is None:
        policies = active_policies()
    facts = {
        "channel_kind": ticket.channel.kind,
        "priority": ticket.priority,
        "intent": ticket.intent,
        "formal": ticket.is_formal_complaint,
    }
    fallback = None
    for policy in policies:
        if policy.is_fallback:
            fallback = fallback or policy
        elif policy.is_active and policy.matches(**facts):
            return policy
    return fallback


def department_target_for(department) -> DepartmentTarget | None:
    targets = list(
        DepartmentTarget.objects.filter(
            Q(department=department) | Q(department__isnull=True, department_kind=department.kind)
        ).select_related("calendar")
    )
    targets.sort(key=lambda t: t.department_id is None)  # the department's own target first
    return targets[0] if targets else None


def active_regulatory_rules() -> list[RegulatoryRule]:
    return list(RegulatoryRule.objects.filter(is_active=True).select_related("calendar"))


def regulatory_rule_for(
    category: str, *, received_at: datetime, rules: list[RegulatoryRule] | None = None
) -> RegulatoryRule | None:
    """The rule of a formal complaint's category; for one not classified yet, the strictest.

    Until somebody says which regulator's rule applies, the earliest deadline any active rule
    would give is the one that cannot be missed. `rules` are the active rules when the caller
    has them loaded already (a recompute of many tickets).
    """
    if rules is None:
        active = RegulatoryRule.objects.filter(is_active=True).select_related("calendar")
        if category:
            return active.filter(category=category).first()
        rules = list(active)
    if category:
        return next((rule for rule in rules if rule.category == category), None)
    return min(rules, key=lambda rule: regulatory_due(rule, received_at), default=None)


def regulatory_due(rule: RegulatoryRule, received_at: datetime) -> datetime:
    calendar = compiled_calendar(rule.calendar)
    if rule.day_kind == RegulatoryRule.DayKind.CALENDAR:
        return bt.add_calendar_days(received_at, rule.days, calendar)
    return bt.add_business_days(received_at, rule.days, calendar)


# --- one ticket's clocks -------------------------------------------------------------------

CLOCK_FIELDS = [
    "state", "policy", "rule", "department", "calendar", "target", "warning_percent",
    "elapsed", "segment_started_at", "due_at", "warn_at", "warned_at", "breached_at",
    "generation", "ended_at",
]


def warn_amount(clock: SlaClock) -> timedelta:
    return clock.target * clock.warning_percent / 100


@dataclass(frozen=True)
class Replayed:
    state: str
    segments: list[bt.Segment]
    ended_at: datetime | None
    ended_running: bool = False

    def projection(self) -> list[bt.Segment]:
        """The segments as the deadline sees them: a clock that ended while running keeps the
        deadline it was running towards (so "met at 9:30, due 10:00" stays readable)."""
        if not self.ended_running:
            return self.segments
        return [*self.segments[:-1], bt.Segment(self.segments[-1].start)]


def replay(events: list[SlaEvent]) -> Replayed:
    """The running segments and final state of a clock, from its events in recorded order."""
    state = ClockState.RUNNING
    segments: list[bt.Segment] = []
    ended_at = None
    ended_running = False
    for event in events:
        kind = event.kind
        if kind == SlaEvent.Kind.START:
            segments, state, ended_at = [bt.Segment(event.at)], ClockState.RUNNING, None
            ended_running = False
        elif kind == SlaEvent.Kind.PAUSE and state == ClockState.RUNNING:
            segments[-1] = bt.Segment(segments[-1].start, event.at)
            state = ClockState.PAUSED
        elif kind == SlaEvent.Kind.RESUME and state == ClockState.PAUSED:
            segments.append(bt.Segment(event.at))
            state = ClockState.RUNNING
        elif kind in (SlaEvent.Kind.FULFIL, SlaEvent.Kind.STOP) and state in OPEN_CLOCK_STATES:
            ended_running = state == ClockState.RUNNING
            if ended_running:
                segments[-1] = bt.Segment(segments[-1].start, event.at)
            state = ClockState.MET if kind == SlaEvent.Kind.FULFIL else ClockState.STOPPED
            ended_at = event.at
    return Replayed(state=state, segments=segments, ended_at=ended_at, ended_running=ended_running)


class TicketClocks:
    """The open clocks of one ticket, changed in memory and saved in a few queries.

    Loading locks the clock rows (the sweep skips locked rows, so it never waits on a
    workflow transaction and never records an alert for a clock being changed).
    """

    def __init__(self, ticket: Ticket, clocks: list[SlaClock]):
        self.ticket = ticket
        self.clocks = clocks
        self.new: list[SlaClock] = []
        self.dirty: dict[int, SlaClock] = {}
        self.events: list[SlaEvent] = []

    @classmethod
    def load(cls, ticket: Ticket) -> TicketClocks:
        return cls.load_many([ticket])[0]

    @classmethod
    def load_many(cls, tickets: list[Ticket]) -> list[TicketClocks]:
        """The open clocks of several tickets in one query (locked, like `load`)."""
        by_ticket: dict[int, list[SlaClock]] = {ticket.pk: [] for ticket in tickets}
        for clock in (
            SlaClock.objects.select_for_update(of=("self",))
            .filter(ticket_id__in=list(by_ticket), state__in=OPEN_CLOCK_STATES)
            .select_related("calendar", "department")
            .order_by("pk")
        ):
            by_ticket[clock.ticket_id].append(clock)
        return [cls(ticket, by_ticket[ticket.pk]) for ticket in tickets]

    @classmethod
    def empty(cls, ticket: Ticket) -> TicketClocks:
        return cls(ticket, [])

    # --- queries on the in-memory set --------------------------------------------------------

    def open(self, kind: str) -> SlaClock | None:
        return next((c for c in self.clocks if c.kind == kind and c.is_open), None)

    def open_clocks(self) -> list[SlaClock]:
        return [c for c in self.clocks if c.is_open]

    # --- steps -------------------------------------------------------------------------------

    def add_event(self, clock: SlaClock | None, kind: str, at: datetime, data: dict | None = None) -> None:
        self.events.append(
            SlaEvent(
                ticket_id=self.ticket.pk, clock=clock, kind=kind, at=at, data=data or {},
                generation=clock.generation if clock is not None else 0,
            )
        )

    def _touch(self, clock: SlaClock) -> None:
        if clock.pk is not None:
            self.dirty[clock.pk] = clock

    def start(
        self, kind: str, *, at: datetime, calendar: Calendar, target: timedelta | None,
        warning_percent: int, due: datetime | None = None, replaces: str = "restarted", **links,
    ) -> SlaClock:
        """Start a clock of `kind`; the open one of that kind, if any, stops (reason `replaces`)."""
        current = self.open(kind)
        if current is not None:
            self.end(current, at=at, met=False, reason=replaces)
        clock = SlaClock(
            ticket_id=self.ticket.pk, kind=kind, state=ClockState.RUNNING, calendar=calendar,
            target=target, warning_percent=warning_percent, started_at=at, segment_started_at=at,
            **links,
        )
        if target is None:
            clock.due_at = due
            clock.warn_at = at + (due - at) * warning_percent / 100
        else:
            self._schedule(clock)
        self.clocks.append(clock)
        self.new.append(clock)
        self.add_event(clock, SlaEvent.Kind.START, at, self._describe(clock))
        return clock

    def start_from_policy(self, kind: str, policy: SlaPolicy | None, *, at: datetime) -> SlaClock | None:
        target = policy.target(kind) if policy is not None else None
        if target is None:
            return None
        amount, calendar = target
        return self.start(
            kind, at=at, calendar=calendar, target=amount,
            warning_percent=policy.warning_percent, policy=policy,
        )

    def start_regulatory(self, rule: RegulatoryRule, *, at: datetime) -> SlaClock:
        return self.start(
            ClockKind.REGULATORY, at=at, calendar=rule.calendar, target=None,
            warning_percent=rule.warning_percent, due=regulatory_due(rule, at), rule=rule,
        )

    def start_department(self, department, *, at: datetime) -> SlaClock | None:
        target = department_target_for(department)
        if target is None:
            current = self.open(ClockKind.DEPARTMENT)
            if current is not None:
                self.end(current, at=at, met=False, reason="no target")
            return None
        return self.start(
            ClockKind.DEPARTMENT, at=at, calendar=target.calendar,
            target=timedelta(minutes=target.minutes), warning_percent=target.warning_percent,
            department=department, replaces="transferred",
        )

    def pause(self, clock: SlaClock, *, at: datetime) -> None:
        if clock.state != ClockState.RUNNING:
            return
        at = max(at, clock.segment_started_at)
        calendar = compiled_calendar(clock.calendar)
        clock.elapsed += bt.business_time_between(clock.segment_started_at, at, calendar)
        clock.segment_started_at = None
        clock.state = ClockState.PAUSED
        # A threshold not reached yet has no instant while the clock stands still; one already
        # passed keeps the instant it was crossed.
        if clock.target is not None:
            if clock.elapsed < clock.target:
                clock.due_at = None
            if clock.elapsed < warn_amount(clock):
                clock.warn_at = None
        self._touch(clock)
        self.add_event(clock, SlaEvent.Kind.PAUSE, at)

    def resume(self, clock: SlaClock, *, at: datetime) -> None:
        if clock.state != ClockState.PAUSED:
            return
        clock.state = ClockState.RUNNING
        clock.segment_started_at = at
        self._schedule(clock)
        self._touch(clock)
        self.add_event(clock, SlaEvent.Kind.RESUME, at)

    def end(self, clock: SlaClock, *, at: datetime, met: bool, reason: str = "") -> None:
        """Fulfil (met) or stop a clock; a deadline passed before the sweep saw it is recorded."""
        if not clock.is_open:
            return
        if clock.state == ClockState.RUNNING:
            at = max(at, clock.segment_started_at)
            calendar = compiled_calendar(clock.calendar)
            clock.elapsed += bt.business_time_between(clock.segment_started_at, at, calendar)
        clock.segment_started_at = None
        clock.state = ClockState.MET if met else ClockState.STOPPED
        clock.ended_at = at
        if clock.due_at is not None and clock.due_at <= at and clock.breached_at is None:
            # Late, and the sweep had not recorded it yet: recorded for the record, no alerts.
            clock.breached_at = at
            self.add_event(clock, SlaEvent.Kind.BREACH, clock.due_at, {"clock": clock.kind, "late": True})
            self.events[-1].handled_at = at
        self._touch(clock)
        kind = SlaEvent.Kind.FULFIL if met else SlaEvent.Kind.STOP
        self.add_event(clock, kind, at, {"reason": reason} if reason else None)

    def _schedule(self, clock: SlaClock) -> None:
        """Deadline and warning instant of a running clock with a business-time target."""
        if clock.target is None or clock.state != ClockState.RUNNING:
            return
        calendar = compiled_calendar(clock.calendar)
        if clock.elapsed < clock.target:
            clock.due_at = bt.add_business_time(
                clock.segment_started_at, clock.target - clock.elapsed, calendar
            )
        warn = warn_amount(clock)
        if clock.elapsed < warn:
            clock.warn_at = bt.add_business_time(
                clock.segment_started_at, warn - clock.elapsed, calendar
            )

    @staticmethod
    def _describe(clock: SlaClock) -> dict:
        data = {"due": clock.due_at.isoformat() if clock.due_at else None}
        if clock.target is not None:
            data["target_minutes"] = clock.target / timedelta(minutes=1)
        for name in ("policy", "rule", "department"):
            value = getattr(clock, f"{name}_id")
            if value is not None:
                data[name] = value
        data["calendar"] = clock.calendar_id
        return data

    # --- rebuild -----------------------------------------------------------------------------

    def rebuild(
        self, clock: SlaClock, events: list[SlaEvent], *, now: datetime,
        fixed_due: datetime | None = None,
    ) -> bool:
        """Recompute a clock's derived columns from its events and its (new) target.

        `fixed_due` is the deadline of a clock without a business-time target (regulatory).
        Returns True when something changed. A recorded warning or breach whose instant moved
        into the future is cleared and the clock starts a new alert generation.
        """
        before = tuple(getattr(clock, f) for f in ("state", "elapsed", "due_at", "warn_at"))
        played = replay(events)
        clock.state = played.state
        closed = [s for s in played.segments if s.end is not None]
        calendar = compiled_calendar(clock.calendar)
        clock.elapsed = bt.running_time(closed, calendar, until=now)
        running = [s for s in played.segments if s.end is None]
        clock.segment_started_at = running[0].start if running else None
        clock.ended_at = played.ended_at
        if fixed_due is not None:
            clock.due_at = fixed_due
            clock.warn_at = clock.started_at + (fixed_due - clock.started_at) * clock.warning_percent / 100
        elif clock.target is not None:
            projection = played.projection()
            clock.due_at = bt.instant_reaching(projection, clock.target, calendar)
            clock.warn_at = bt.instant_reaching(projection, warn_amount(clock), calendar)
        reset = False
        if clock.warned_at is not None and (clock.warn_at is None or clock.warn_at > now):
            clock.warned_at, reset = None, True
        if clock.breached_at is not None and (clock.due_at is None or clock.due_at > now):
            clock.breached_at, reset = None, True
        if reset:
            clock.generation += 1
        after = tuple(getattr(clock, f) for f in ("state", "elapsed", "due_at", "warn_at"))
        changed = reset or before != after
        if changed:
            self._touch(clock)
        return changed

    # --- write back --------------------------------------------------------------------------

    def save(self, *, now: datetime | None = None) -> None:
        """Insert new clocks and events, update changed clocks, refresh the ticket columns."""
        TicketClocks.save_many([self], now=now)

    @staticmethod
    def save_many(sets: list[TicketClocks], *, now: datetime | None = None) -> None:
        """`save` for the clocks of several tickets, in the same few statements as for one."""
        dirty = [clock for clocks in sets for clock in clocks.dirty.values()]
        new = [clock for clocks in sets for clock in clocks.new]
        events = [event for clocks in sets for event in clocks.events]
        # Ended clocks first: a clock started in their place must not meet them open.
        if dirty:
            SlaClock.objects.bulk_update(dirty, CLOCK_FIELDS)
        if new:
            SlaClock.objects.bulk_create(new)
        if events:
            # A breach recorded by a sweep a moment ago wins over the late one recorded here.
            SlaEvent.objects.bulk_create(events, ignore_conflicts=True)
        for clocks in sets:
            clocks.dirty, clocks.new, clocks.events = {}, [], []
        now = now or timezone.now()
        tickets_columns_sync([(clocks.ticket, clocks.open_clocks()) for clocks in sets], now=now)


TICKET_COLUMNS = (
    "first_response_due", "next_response_due", "resolution_due", "sla_due", "department_due",
    "regulatory_due", "sla_status",
)


def ticket_columns(clocks: list[SlaClock], *, now: datetime) -> dict:
    """The ticket's SLA columns from its open clocks (a pure function of the schedule)."""
    running_due = {
        c.kind: c.due_at for c in clocks if c.state == ClockState.RUNNING and c.due_at is not None
    }
    customer = [c for c in clocks if c.kind in CUSTOMER_KINDS and c.is_open]
    customer_dues = [running_due[k] for k in CUSTOMER_KINDS if k in running_due]
    if any(c.due_at is not None and c.due_at <= now for c in customer):
        status = SlaStatus.BREACHED
    elif any(c.warn_at is not None and c.warn_at <= now for c in customer):
        status = SlaStatus.WARNING
    elif customer:
        status = SlaStatus.OK
    else:
        status = SlaStatus.NONE
    return {
        "first_response_due": running_due.get(ClockKind.FIRST_RESPONSE),
        "next_response_due": running_due.get(ClockKind.NEXT_RESPONSE),
        "resolution_due": running_due.get(ClockKind.RESOLUTION),
        "sla_due": min(customer_dues) if customer_dues else None,
        "department_due": running_due.get(ClockKind.DEPARTMENT),
        "regulatory_due": running_due.get(ClockKind.REGULATORY),
        "sla_status": status,
    }


def ticket_columns_sync(ticket: Ticket, clocks: list[SlaClock], *, now: datetime) -> None:
    """Write the ticket's SLA columns if they changed, and keep the caller's instance current."""
    tickets_columns_sync([(ticket, clocks)], now=now)


def tickets_columns_sync(pairs: list[tuple[Ticket, list[SlaClock]]], *, now: datetime) -> None:
    """`ticket_columns_sync` for several tickets, in one UPDATE of the columns that changed."""
    changed_tickets, fields = [], set()
    for ticket, clocks in pairs:
        columns = ticket_columns(clocks, now=now)
        changed = {k: v for k, v in columns.items() if getattr(ticket, k) != v}
        if changed:
            for key, value in changed.items():
                setattr(ticket, key, value)
            changed_tickets.append(ticket)
            fields.update(changed)
    if changed_tickets:
        Ticket.objects.bulk_update(changed_tickets, sorted(fields))


