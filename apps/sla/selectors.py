"""SLA reads for pages: the clocks of a ticket as plain values, ready for the template."""

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from apps.tickets.models import Ticket

from .models import ClockKind, ClockState, SlaClock

GROUP_OPERATIONAL = "operational"
GROUP_DEPARTMENT = "department"
GROUP_REGULATORY = "regulatory"
_GROUP_OF = {ClockKind.DEPARTMENT: GROUP_DEPARTMENT, ClockKind.REGULATORY: GROUP_REGULATORY}
_DISPLAY_ORDER = [
    ClockKind.FIRST_RESPONSE, ClockKind.NEXT_RESPONSE, ClockKind.RESOLUTION, ClockKind.DEPARTMENT,
    ClockKind.REGULATORY,
]


@dataclass(frozen=True)
class ClockView:
    """One clock as the pages show it.

    `state` is running, paused, met, breached (past its deadline, or met late) or stopped;
    `phase` is where the clock itself is (running, paused, met, stopped) whatever the deadline.
    `seconds_left` is real time to the deadline for a running clock (negative when overdue)
    and the open time still allowed for a paused one; None once the clock has ended.
    """

    kind: str
    label: str
    group: str
    due: datetime | None
    state: str
    seconds_left: int | None
    met_at: datetime | None
    phase: str = ""
    detail: str = ""

    @property
    def group_label(self) -> str:
        return {
            GROUP_OPERATIONAL: _("Service level"),
            GROUP_DEPARTMENT: _("Department"),
            GROUP_REGULATORY: _("Regulator"),
        }[self.group]

    @property
    def minutes_left(self) -> int | None:
        if self.seconds_left is None:
            return None
        return int(abs(self.seconds_left) // 60)


def _view(clock: SlaClock, now: datetime) -> ClockView:
    label = clock.get_kind_display()
    detail = ""
    if clock.kind == ClockKind.DEPARTMENT and clock.department is not None:
        detail = str(clock.department)
    elif clock.kind == ClockKind.REGULATORY and clock.rule is not None:
        detail = str(clock.rule)
    seconds_left = None
    met_at = None
    if clock.state == ClockState.RUNNING:
        seconds_left = int((clock.due_at - now).total_seconds()) if clock.due_at else None
        state = "breached" if clock.due_at and clock.due_at <= now else "running"
    elif clock.state == ClockState.PAUSED:
        if clock.target is not None:
            seconds_left = int((clock.target - clock.elapsed).total_seconds())
        state = "breached" if seconds_left is not None and seconds_left <= 0 else "paused"
    elif clock.state == ClockState.MET:
        met_at = clock.ended_at
        late = clock.due_at is not None and met_at is not None and met_at > clock.due_at
        state = "breached" if late else "met"
    else:
        state = "breached" if clock.breached_at else "stopped"
    return ClockView(
        kind=clock.kind, label=str(label), group=_GROUP_OF.get(clock.kind, GROUP_OPERATIONAL),
        due=clock.due_at, state=state, seconds_left=seconds_left, met_at=met_at, phase=clock.state,
        detail=detail,
    )


def ticket_clocks(ticket: Ticket, *, now: datetime | None = None) -> list[ClockView]:
    """The latest clock of each kind on the ticket (one query), operational ones first."""
    now = now or timezone.now()
    latest: dict[str, SlaClock] = {}
    clocks = (
        SlaClock.objects.filter(ticket_id=ticket.pk)
        .select_related("department", "rule")
        .order_by("started_at", "pk")
    )
    for clock in clocks:
        latest[clock.kind] = clock
    return [_view(latest[kind], now) for kind in _DISPLAY_ORDER if kind in latest]
