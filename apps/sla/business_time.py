"""Business-time arithmetic: pure functions over a calendar, no ORM, no Django.

A calendar is a time zone, weekly opening frames (several per day for split shifts) and
holidays, or "always open" (24/7). Frames are local wall-clock times; every instant that goes
in or comes out is an aware datetime, and every duration is real elapsed time. So an opening
frame that spans a DST change is as long as it really is (00:00–24:00 is 23 hours on the last
Sunday of March in Europe/Rome), and adding then measuring always gives back what was added.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY_MINUTES = 24 * 60
# A calendar that is closed for this long in a row is treated as never open: the search stops
# instead of looping for ever over a misconfigured calendar.
MAX_CLOSED_DAYS = 3 * 366
END_OF_DAY = time(23, 59, 59)


class CalendarError(ValueError):
    """The calendar cannot answer (no opening hours at all, or a naive datetime was given)."""


def easter_sunday(year: int) -> date:
    """Western (Gregorian) Easter Sunday: the anonymous Gregorian algorithm (Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


@dataclass(frozen=True)
class Frame:
    """Open from `start` to `end` minutes after local midnight on `weekday` (0 = Monday)."""

    weekday: int
    start: int
    end: int

    def __post_init__(self):
        if not 0 <= self.weekday <= 6:
            raise CalendarError(f"weekday {self.weekday} is not 0..6")
        if not 0 <= self.start < self.end <= DAY_MINUTES:
            raise CalendarError(f"frame {self.start}-{self.end} is not within one day")


@dataclass(frozen=True)
class HolidayRule:
    """A closed day: one date, or every year on month/day, or N days after Easter Sunday.

    `first_year`/`last_year` bound yearly and Easter rules (a holiday introduced by law).
    """

    on_date: date | None = None
    month: int | None = None
    day: int | None = None
    easter_offset: int | None = None
    first_year: int | None = None
    last_year: int | None = None

    def dates_in(self, year: int) -> list[date]:
        if self.on_date is not None:
            return [self.on_date] if self.on_date.year == year else []
        if self.first_year is not None and year < self.first_year:
            return []
        if self.last_year is not None and year > self.last_year:
            return []
        if self.easter_offset is not None:
            return [easter_sunday(year) + timedelta(days=self.easter_offset)]
        if self.month is not None and self.day is not None:
            try:
                return [date(year, self.month, self.day)]
            except ValueError:  # 29 February in a common year
                return []
        return []


@dataclass(frozen=True)
class BusinessCalendar:
    tz: str
    frames: tuple[Frame, ...] = ()
    holidays: tuple[HolidayRule, ...] = ()
    always_open: bool = False
    zone: ZoneInfo = field(init=False, repr=False, compare=False, hash=False)
    _by_weekday: tuple = field(init=False, repr=False, compare=False, hash=False)
    _holiday_years: dict = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self):
        try:
            zone = ZoneInfo(self.tz)
        except Exception as exc:
            raise CalendarError(f"unknown time zone {self.tz!r}") from exc
        by_weekday: list[list[tuple[int, int]]] = [[] for _ in range(7)]
        for frame in sorted(self.frames, key=lambda f: (f.weekday, f.start)):
            slots = by_weekday[frame.weekday]
            # Overlapping or touching frames merge, so intervals never overlap.
            if slots and frame.start <= slots[-1][1]:
                slots[-1] = (slots[-1][0], max(slots[-1][1], frame.end))
            else:
                slots.append((frame.start, frame.end))
        if not self.always_open and not any(by_weekday):
            raise CalendarError("the calendar has no opening hours")
        object.__setattr__(self, "_by_weekday", tuple(tuple(s) for s in by_weekday))
        object.__setattr__(self, "_holiday_years", {})
        object.__setattr__(self, "zone", zone)

    # --- days ---------------------------------------------------------------------------------

    def holidays_in(self, year: int) -> frozenset[date]:
        cached = self._holiday_years.get(year)
        if cached is None:
            cached = frozenset(d for rule in self.holidays for d in rule.dates_in(year))
            self._holiday_years[year] = cached
        return cached

    def is_holiday(self, day: date) -> bool:
        return day in self.holidays_in(day.year)

    def is_business_day(self, day: date) -> bool:
        if self.is_holiday(day):
            return False
        return self.always_open or bool(self._by_weekday[day.weekday()])

    # --- instants -----------------------------------------------------------------------------

    def _utc(self, day: date, minute: int) -> datetime:
        if minute >= DAY_MINUTES:
            day, minute = day + timedelta(days=1), 0
        hour, mins = divmod(minute, 60)
        # fold=0: a wall time in the autumn repeated hour is its first occurrence, a wall time
        # in the spring gap maps past it; _intervals_from() clips any overlap this leaves.
        local = datetime(day.year, day.month, day.day, hour, mins, tzinfo=self.zone)
        return local.astimezone(UTC)

    def _day_slots(self, day: date) -> tuple[tuple[int, int], ...]:
        if self.is_holiday(day):
            return ()
        if self.always_open:
            return ((0, DAY_MINUTES),)
        return self._by_weekday[day.weekday()]

    def _intervals_from(self, instant: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals [start, end) in UTC, in time order, that end after `instant`."""
        day = instant.astimezone(self.zone).date() - timedelta(days=1)
        last_end = None
        closed_days = 0
        while closed_days <= MAX_CLOSED_DAYS:
            slots = self._day_slots(day)
            closed_days = 0 if slots else closed_days + 1
            for start_min, end_min in slots:
                start, end = self._utc(day, start_min), self._utc(day, end_min)
                if last_end is not None and start < last_end:
                    start = last_end
                if end <= start:
                    continue
                last_end = end
                if end > instant:
                    yield start, end
            day += timedelta(days=1)
        raise CalendarError("the calendar is closed for years on end")

    def is_open(self, instant: datetime) -> bool:
        instant = _aware(instant)
        if self.always_open and not self.holidays:
            return True
        start, _end = next(self._intervals_from(instant))
        return start <= instant

    def next_open(self, instant: datetime) -> datetime:
        """`instant` if the calendar is open then, else the next opening."""
        instant = _aware(instant)
        start, _end = next(self._intervals_from(instant))
        return max(start, instant)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise CalendarError("business time needs aware datetimes")
    return value.astimezone(UTC)


def _plain_24_7(calendar: BusinessCalendar) -> bool:
    return calendar.always_open and not calendar.holidays


def add_business_time(start: datetime, amount: timedelta, calendar: BusinessCalendar) -> datetime:
    """The instant at which `amount` of open time has passed since `start` (UTC).

    A zero amount gives `start` back unchanged; a positive one never lands in a closed period
    (it may land exactly on the end of a frame: the deadline is the close of business).
    """
    start = _aware(start)
    if amount <= timedelta(0):
        return start
    if _plain_24_7(calendar):
        return start + amount
    remaining = amount
    for opens, closes in calendar._intervals_from(start):
        begin = max(opens, start)
        available = closes - begin
        if remaining <= available:
            return begin + remaining
        remaining -= available
    raise CalendarError("unreachable")  # _intervals_from() never ends without raising


def business_time_between(a: datetime, b: datetime, calendar: BusinessCalendar) -> timedelta:
    """Open time from `a` to `b`; negative when `b` is before `a`."""
    a, b = _aware(a), _aware(b)
    if b < a:
        return -business_time_between(b, a, calendar)
    if _plain_24_7(calendar):
        return b - a
    total = timedelta(0)
    for opens, closes in calendar._intervals_from(a):
        if opens >= b:
            break
        total += min(closes, b) - max(opens, a)
    return total


def add_business_minutes(start: datetime, minutes: float, calendar: BusinessCalendar) -> datetime:
    return add_business_time(start, timedelta(minutes=minutes), calendar)


def business_minutes_between(a: datetime, b: datetime, calendar: BusinessCalendar) -> float:
    return business_time_between(a, b, calendar) / timedelta(minutes=1)


def add_business_days(start: datetime, days: int, calendar: BusinessCalendar) -> datetime:
    """End of the `days`-th business day after the local day of `start` (that day not counted).

    This is how regulators count ("reply within 15 business days of receipt").
    """
    start = _aware(start)
    day = start.astimezone(calendar.zone).date()
    counted = 0
    closed_run = 0
    while counted < days:
        day += timedelta(days=1)
        if calendar.is_business_day(day):
            counted += 1
            closed_run = 0
        else:
            closed_run += 1
            if closed_run > MAX_CLOSED_DAYS:
                raise CalendarError("the calendar is closed for years on end")
    return _end_of_day(day, calendar)


def add_calendar_days(start: datetime, days: int, calendar: BusinessCalendar) -> datetime:
    """End of the `days`-th calendar day after the local day of `start`."""
    start = _aware(start)
    day = start.astimezone(calendar.zone).date() + timedelta(days=days)
    return _end_of_day(day, calendar)


def _end_of_day(day: date, calendar: BusinessCalendar) -> datetime:
    return datetime.combine(day, END_OF_DAY, tzinfo=calendar.zone).astimezone(UTC)


@dataclass(frozen=True)
class Segment:
    """A stretch of time during which a clock ran; `end` None means it is still running."""

    start: datetime
    end: datetime | None = None


def running_time(segments: list[Segment], calendar: BusinessCalendar, *, until: datetime) -> timedelta:
    """Open time consumed by the segments, the running one counted up to `until`."""
    total = timedelta(0)
    for seg in segments:
        end = seg.end if seg.end is not None else until
        if end > seg.start:
            total += business_time_between(seg.start, end, calendar)
    return total


def instant_reaching(
    segments: list[Segment], amount: timedelta, calendar: BusinessCalendar
) -> datetime | None:
    """When the running segments have consumed `amount` of open time, or None while paused.

    Closed segments are walked in order; if `amount` is reached inside one, the instant is in
    the past (a clock that crossed its deadline before being paused). Otherwise the last,
    still-running segment carries the rest; if there is none the clock is paused and has no
    instant yet.
    """
    consumed = timedelta(0)
    for seg in segments:
        if seg.end is None:
            return add_business_time(seg.start, amount - consumed, calendar)
        length = business_time_between(seg.start, seg.end, calendar)
        if consumed + length >= amount:
            return add_business_time(seg.start, amount - consumed, calendar)
        consumed += length
    return None
