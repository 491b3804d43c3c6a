"""The incremental clock steps and the replay from events agree (no database needed)."""

import copy
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from apps.sla import business_time as bt
from apps.sla import engine
from apps.sla.models import Calendar, ClockState
from apps.tickets.models import Ticket

from .test_business_time import ITALY, NETHERLANDS, ROUND_THE_CLOCK_ROME

STAMP = datetime(2025, 1, 1, tzinfo=UTC)


def calendar_row(pk: int, compiled: bt.BusinessCalendar) -> Calendar:
    row = Calendar(pk=pk, name=f"test {pk}", time_zone=compiled.tz, updated_at=STAMP)
    engine._compiled[pk] = (STAMP, compiled)  # what compiled_calendar() would have built
    return row


CALENDARS = [calendar_row(-1, ITALY), calendar_row(-2, NETHERLANDS), calendar_row(-3, ROUND_THE_CLOCK_ROME)]

steps = st.lists(
    st.tuples(st.sampled_from(["pause", "resume"]), st.integers(0, 3 * 24 * 60)), max_size=8
)


@settings(max_examples=120, deadline=None)
@given(
    calendar=st.sampled_from(CALENDARS),
    start=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)),
    target=st.integers(1, 3000),
    percent=st.integers(1, 99),
    ops=steps,
    end_after=st.one_of(st.none(), st.integers(0, 5000)),
)
def test_replaying_the_events_rebuilds_what_the_steps_computed(calendar, start, target, percent, ops, end_after):
    clocks = engine.TicketClocks(Ticket(pk=1), [])
    clock = clocks.start(
        "resolution", at=start, calendar=calendar, target=timedelta(minutes=target), warning_percent=percent
    )
    now = start
    for op, minutes in ops:
        now += timedelta(minutes=minutes)
        (clocks.pause if op == "pause" else clocks.resume)(clock, at=now)
    if end_after is not None:
        now += timedelta(minutes=end_after)
        clocks.end(clock, at=now, met=True)
    rebuilt = copy.copy(clock)
    clocks.rebuild(rebuilt, clocks.events, now=now)
    for name in ("state", "elapsed", "segment_started_at", "due_at", "warn_at", "ended_at"):
        assert getattr(rebuilt, name) == getattr(clock, name), name
    if clock.state == ClockState.RUNNING:
        # The deadline is exactly the target of open time, the pauses left out.
        open_time = engine.compiled_calendar(calendar)
        if clock.elapsed < timedelta(minutes=target):
            used = clock.elapsed + bt.business_time_between(clock.segment_started_at, clock.due_at, open_time)
            assert used == timedelta(minutes=target)
