"""Business-time arithmetic: properties over random calendars and instants, plus the cases
that bite in practice (DST weekends in Rome and Amsterdam, Easter, split shifts)."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.sla import business_time as bt

ROME = ZoneInfo("Europe/Rome")
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
FAST = settings(max_examples=150, deadline=None)

ITALY = bt.BusinessCalendar(
    tz="Europe/Rome",
    frames=tuple(bt.Frame(d, s, e) for d in range(5) for s, e in ((9 * 60, 13 * 60), (14 * 60, 18 * 60))),
    holidays=(
        bt.HolidayRule(month=1, day=1), bt.HolidayRule(month=4, day=25), bt.HolidayRule(month=12, day=25),
        bt.HolidayRule(month=12, day=26), bt.HolidayRule(easter_offset=1),
    ),
)
NETHERLANDS = bt.BusinessCalendar(
    tz="Europe/Amsterdam",
    frames=tuple(bt.Frame(d, 9 * 60, 17 * 60) for d in range(5)),
    holidays=(
        bt.HolidayRule(month=4, day=27, first_year=2014), bt.HolidayRule(easter_offset=1),
        bt.HolidayRule(easter_offset=39), bt.HolidayRule(easter_offset=50),
    ),
)
ALWAYS = bt.BusinessCalendar(tz="Europe/Rome", always_open=True)
# Every day round the clock, as frames: the arithmetic has to walk through DST nights.
ROUND_THE_CLOCK_ROME = bt.BusinessCalendar(
    tz="Europe/Rome", frames=tuple(bt.Frame(d, 0, bt.DAY_MINUTES) for d in range(7))
)
NIGHT_SHIFT_AMSTERDAM = bt.BusinessCalendar(
    tz="Europe/Amsterdam",
    frames=tuple(bt.Frame(d, s, e) for d in range(7) for s, e in ((0, 150), (150, 6 * 60), (22 * 60, 1440))),
)

# Transitions in both zones: last Sundays of March and October.
DST_DAYS = [date(2024, 3, 31), date(2024, 10, 27), date(2025, 3, 30), date(2025, 10, 26),
            date(2026, 3, 29), date(2026, 10, 25)]


@st.composite
def random_calendars(draw):
    tz = draw(st.sampled_from(["Europe/Rome", "Europe/Amsterdam", "America/New_York", "UTC"]))
    frames = []
    for weekday in range(7):
        cuts = sorted(draw(st.sets(st.integers(0, 96), max_size=6)))
        frames += [
            bt.Frame(weekday, a * 15, b * 15) for a, b in zip(cuts[::2], cuts[1::2], strict=False) if b > a
        ]
    if not frames:
        frames = [bt.Frame(draw(st.integers(0, 6)), 8 * 60, 12 * 60)]
    holidays = tuple(
        bt.HolidayRule(month=m, day=d)
        for m, d in draw(st.lists(st.tuples(st.integers(1, 12), st.integers(1, 28)), max_size=4))
    )
    return bt.BusinessCalendar(tz=tz, frames=tuple(frames), holidays=holidays)


calendars = st.one_of(
    st.sampled_from([ITALY, NETHERLANDS, ALWAYS, ROUND_THE_CLOCK_ROME, NIGHT_SHIFT_AMSTERDAM]),
    random_calendars(),
)
plain_instants = st.datetimes(
    min_value=datetime(2023, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
# Instants within a day of a DST change, where the bugs live.
dst_instants = st.builds(
    lambda day, minutes: datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(minutes=minutes),
    st.sampled_from(DST_DAYS), st.integers(-36 * 60, 36 * 60),
)
instants = st.one_of(plain_instants, dst_instants)
minutes = st.integers(0, 6000)


@FAST
@given(calendar=calendars, start=instants, amount=minutes)
def test_adding_then_measuring_gives_back_the_minutes(calendar, start, amount):
    end = bt.add_business_minutes(start, amount, calendar)
    assert end >= start
    assert bt.business_minutes_between(start, end, calendar) == pytest.approx(amount, abs=1e-6)


@FAST
@given(calendar=calendars, start=instants, amount=minutes, extra=minutes, later=st.integers(0, 10_000))
def test_monotonic_in_amount_and_in_start(calendar, start, amount, extra, later):
    assert bt.add_business_minutes(start, amount, calendar) <= bt.add_business_minutes(
        start, amount + extra, calendar
    )
    assert bt.add_business_minutes(start, amount, calendar) <= bt.add_business_minutes(
        start + timedelta(minutes=later), amount, calendar
    )


@FAST
@given(calendar=calendars, start=instants, amount=st.integers(1, 6000))
def test_never_lands_in_a_closed_period(calendar, start, amount):
    end = bt.add_business_minutes(start, amount, calendar)
    # The deadline may be the close of business itself; the instant before it is open.
    assert calendar.is_open(end - timedelta(microseconds=1))


@FAST
@given(calendar=calendars, a=instants, gap1=st.integers(0, 20_000), gap2=st.integers(0, 20_000))
def test_measuring_is_additive_and_never_exceeds_real_time(calendar, a, gap1, gap2):
    b = a + timedelta(minutes=gap1)
    c = b + timedelta(minutes=gap2)
    ab = bt.business_time_between(a, b, calendar)
    bc = bt.business_time_between(b, c, calendar)
    assert ab + bc == bt.business_time_between(a, c, calendar)
    assert timedelta(0) <= ab <= b - a
    assert bt.business_time_between(b, a, calendar) == -ab


@FAST
@given(start=instants, amount=minutes)
def test_24_7_is_real_elapsed_time_across_dst(start, amount):
    assert bt.add_business_minutes(start, amount, ALWAYS) == start + timedelta(minutes=amount)


@FAST
@given(year=st.integers(1583, 4099))
def test_easter_is_a_spring_sunday(year):
    easter = bt.easter_sunday(year)
    assert easter.weekday() == 6
    assert date(year, 3, 22) <= easter <= date(year, 4, 25)


@pytest.mark.parametrize(
    ("year", "expected"),
    [(2000, date(2000, 4, 23)), (2008, date(2008, 3, 23)), (2019, date(2019, 4, 21)),
     (2024, date(2024, 3, 31)), (2025, date(2025, 4, 20)), (2026, date(2026, 4, 5)),
     (2027, date(2027, 3, 28)), (2038, date(2038, 4, 25))],
)
def test_easter_known_dates(year, expected):
    assert bt.easter_sunday(year) == expected


@FAST
@given(year=st.integers(2000, 2100))
def test_easter_monday_counts_no_business_time(year):
    monday = bt.easter_sunday(year) + timedelta(days=1)
    start = datetime(monday.year, monday.month, monday.day, tzinfo=ROME)
    assert bt.business_time_between(start, start + timedelta(days=1), ITALY) == timedelta(0)
    assert not ITALY.is_business_day(monday)


def local(zone, *args):
    return datetime(*args, tzinfo=zone)


def test_split_shift_skips_lunch_and_the_night():
    assert bt.add_business_minutes(local(ROME, 2025, 3, 4, 12, 30), 60, ITALY) == local(ROME, 2025, 3, 4, 14, 30)
    assert bt.add_business_minutes(local(ROME, 2025, 3, 4, 17, 0), 120, ITALY) == local(ROME, 2025, 3, 5, 10, 0)
    # Asked during lunch: the clock starts at 14:00.
    assert bt.add_business_minutes(local(ROME, 2025, 3, 4, 13, 20), 30, ITALY) == local(ROME, 2025, 3, 4, 14, 30)
    assert bt.business_minutes_between(local(ROME, 2025, 3, 4, 8), local(ROME, 2025, 3, 4, 20), ITALY) == 480


def test_eight_business_hours_over_the_easter_weekend():
    # Friday 18 April 2025, 17:00: one hour left that day, Easter Monday closed, Tuesday 7 hours.
    due = bt.add_business_minutes(local(ROME, 2025, 4, 18, 17, 0), 480, ITALY)
    assert due == local(ROME, 2025, 4, 22, 17, 0)


@pytest.mark.parametrize("calendar,zone", [(ITALY, ROME), (NETHERLANDS, AMSTERDAM)])
@pytest.mark.parametrize("friday", [date(2025, 3, 28), date(2025, 10, 24)])
def test_business_day_over_a_dst_weekend_keeps_the_wall_clock(calendar, zone, friday):
    start = local(zone, friday.year, friday.month, friday.day, 10, 0)
    day_minutes = 480
    due = bt.add_business_minutes(start, day_minutes, calendar)
    assert due.astimezone(zone).replace(tzinfo=None) == datetime(
        friday.year, friday.month, friday.day + 3, 10, 0
    )
    assert due - start != timedelta(days=3)  # the weekend was 71 or 73 real hours long


@pytest.mark.parametrize(
    ("calendar", "day", "hours"),
    [(ROUND_THE_CLOCK_ROME, date(2025, 3, 30), 23), (ROUND_THE_CLOCK_ROME, date(2025, 10, 26), 25),
     (NIGHT_SHIFT_AMSTERDAM, date(2025, 3, 30), 7), (NIGHT_SHIFT_AMSTERDAM, date(2025, 10, 26), 9)],
)
def test_open_time_on_dst_days_is_real_time(calendar, day, hours):
    # Night shift: 00:00–06:00 is 5 real hours in spring and 7 in autumn, plus 22:00–24:00.
    start = datetime(day.year, day.month, day.day, tzinfo=calendar.zone)
    end = start + timedelta(days=2)
    next_day = bt.business_minutes_between(
        datetime(day.year, day.month, day.day + 1, tzinfo=calendar.zone), end, calendar
    )
    assert bt.business_minutes_between(start, end, calendar) - next_day == hours * 60


def test_dutch_holidays():
    for day in (date(2025, 4, 21), date(2025, 5, 29), date(2025, 6, 9), date(2026, 4, 27)):
        assert not NETHERLANDS.is_business_day(day), day
    # Koningsdag 2025 falls on a Sunday: observed on Saturday the 26th, closed anyway.
    assert NETHERLANDS.is_business_day(date(2025, 4, 28))


def test_business_and_calendar_days_end_at_local_midnight():
    received = local(ROME, 2025, 4, 17, 16, 0)  # Thursday before Easter
    due = bt.add_business_days(received, 15, ITALY)
    # The day of receipt does not count; Easter Monday (21) and Liberation Day (25) are closed
    # (this test calendar has no 1 May): Fri 18 is the 1st business day, Mon 12 May the 15th.
    assert due.astimezone(ROME).replace(tzinfo=None) == datetime(2025, 5, 12, 23, 59, 59)
    assert bt.add_calendar_days(received, 60, ITALY).astimezone(ROME).date() == date(2025, 6, 16)


def test_a_calendar_without_hours_is_refused():
    with pytest.raises(bt.CalendarError):
        bt.BusinessCalendar(tz="Europe/Rome")
    with pytest.raises(bt.CalendarError):
        bt.add_business_minutes(datetime(2025, 1, 1), 10, ITALY)


@FAST
@given(
    calendar=calendars, start=instants,
    pauses=st.lists(st.tuples(st.integers(1, 3000), st.integers(1, 3000)), max_size=4),
    amount=st.integers(1, 4000),
)
def test_instant_reaching_over_paused_segments(calendar, start, pauses, amount):
    segments, cursor = [], start
    for run, wait in pauses:
        segments.append(bt.Segment(cursor, cursor + timedelta(minutes=run)))
        cursor += timedelta(minutes=run + wait)
    segments.append(bt.Segment(cursor))
    target = timedelta(minutes=amount)
    due = bt.instant_reaching(segments, target, calendar)
    used = bt.running_time([s for s in segments if s.end is not None], calendar, until=due)
    if used >= target:
        # Reached inside a finished segment: the instant lies in that segment.
        assert any(s.end is not None and s.start <= due <= s.end for s in segments)
    else:
        assert used + bt.business_time_between(cursor, due, calendar) == target
