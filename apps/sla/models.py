"""SLA configuration (calendars, policies, regulatory rules, department targets) and clocks.

A clock is one timed promise on one ticket (first response, next response, resolution, a
department's internal answer, the regulator's deadline). Its life is a list of SlaEvent rows
(start, pause, resume, fulfil, stop, warning, breach); the columns on SlaClock are derived
from them so the sweep and the queues can work in SQL, and `services.sla_recompute` rebuilds
them from the events whenever a policy or a calendar changes.
"""

import zoneinfo
from datetime import datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import Department
from apps.tickets.models import Channel, Intent, Priority

from . import business_time as bt


class Calendar(models.Model):
    TIME_ZONE_CHOICES = [(tz, tz) for tz in sorted(zoneinfo.available_timezones()) if "/" in tz]

    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(max_length=64, choices=TIME_ZONE_CHOICES, default="Europe/Rome")
    always_open = models.BooleanField(
        _("open 24/7"), default=False,
        help_text=_("Every minute counts (holidays still close, if you add any)."),
    )
    # Bumped by every change to the calendar, its frames and its holidays: compiled calendars
    # are cached per process and keyed by it.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def touch(self) -> None:
        Calendar.objects.filter(pk=self.pk).update(updated_at=timezone.now())

    def compile(self) -> bt.BusinessCalendar:
        """The pure calendar the arithmetic uses (frames and holidays read from the database)."""
        return bt.BusinessCalendar(
            tz=self.time_zone,
            always_open=self.always_open,
            frames=tuple(f.as_frame() for f in self.frames.all()),
            holidays=tuple(h.as_rule() for h in self.holidays.all()),
        )


class CalendarFrame(models.Model):
    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="frames")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start = models.TimeField()
    end = models.TimeField(help_text=_("00:00 means midnight at the end of the day."))

    class Meta:
        ordering = ["weekday", "start"]
        verbose_name = _("opening hours")
        verbose_name_plural = _("opening hours")

    def __str__(self):
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        self.calendar.touch()

    def delete(self, *args, **kwargs):
        result = super().delete(*args, **kwargs)
        self.calendar.touch()
        return result

    @staticmethod
    def _minutes(value: time) -> int:
        return value.hour * 60 + value.minute

    def end_minutes(self) -> int:
        return bt.DAY_MINUTES if self.end == time(0) else self._minutes(self.end)

    def clean(self):
        if self.start is None or self.end is None:
            return
        if self.end_minutes() <= self._minutes(self.start):
            raise ValidationError(_("The frame must end after it starts (00:00 = midnight)."))

    def as_frame(self) -> bt.Frame:
        return bt.Frame(self.weekday, self._minutes(self.start), self.end_minutes())


class Holiday(models.Model):
    class Kind(models.TextChoices):
        DATE = "date", _("One date")
        YEARLY = "yearly", _("Every year (month/day)")
        EASTER = "easter", _("Days after Easter Sunday")

    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="holidays")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.YEARLY)
    date = models.DateField(null=True, blank=True, help_text=_("For a one-off closing day."))
    month = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    day = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(31)]
    )
    easter_offset = models.SmallIntegerField(
        null=True, blank=True, help_text=_("1 = Easter Monday, 39 = Ascension, 50 = Whit Monday.")
    )
    first_year = models.PositiveSmallIntegerField(null=True, blank=True)
    last_year = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["kind", "month", "day", "date"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        self.calendar.touch()

    def delete(self, *args, **kwargs):
        result = super().delete(*args, **kwargs)
        self.calendar.touch()
        return result

    def clean(self):
        errors = {}
        if self.kind == self.Kind.DATE and self.date is None:
            errors["date"] = _("Give the date.")
        if self.kind == self.Kind.YEARLY:
            if self.month is None or self.day is None:
                errors["month"] = _("Give month and day.")
            else:
                try:
                    datetime(2024, self.month, self.day)  # a leap year accepts every real day
                except ValueError:
                    errors["day"] = _("That day does not exist in that month.")
        if self.kind == self.Kind.EASTER and self.easter_offset is None:
            errors["easter_offset"] = _("Give the number of days after Easter Sunday.")
        if self.first_year and self.last_year and self.last_year < self.first_year:
            errors["last_year"] = _("The last year is before the first.")
        if errors:
            raise ValidationError(errors)

    def as_rule(self) -> bt.HolidayRule:
        if self.kind == self.Kind.DATE:
            return bt.HolidayRule(on_date=self.date)
        if self.kind == self.Kind.EASTER:
            return bt.HolidayRule(
                easter_offset=self.easter_offset, first_year=self.first_year,
                last_year=self.last_year,
            )
        return bt.HolidayRule(
            month=self.month, day=self.day, first_year=self.first_year, last_year=self.last_year
        )


class FormalComplaintMatch(models.TextChoices):
    ANY = "", _("Any ticket")
    YES = "yes", _("Formal complaints only")
    NO = "no", _("Not formal complaints")


class SlaPolicy(models.Model):
    """Targets for a kind of ticket; the first active policy (by order) that matches wins."""

    name = models.CharField(max_length=100, unique=True)
    order = models.PositiveIntegerField(default=100, help_text=_("Lower is checked first."))
    is_active = models.BooleanField(default=True)
    is_fallback = models.BooleanField(
        default=False, help_text=_("Applies when no other policy matches (ignores the conditions).")
    )
    channel_kinds = models.JSONField(
        default=list, blank=True, help_text=_("Empty = any channel.")
    )
    priorities = models.JSONField(default=list, blank=True, help_text=_("Empty = any priority."))
    intents = models.JSONField(default=list, blank=True, help_text=_("Empty = any intent."))
    formal_complaint = models.CharField(
        max_length=3, choices=FormalComplaintMatch.choices, default=FormalComplaintMatch.ANY,
        blank=True,
    )

    first_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    first_response_calendar = models.ForeignKey(
        Calendar, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    next_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    next_response_calendar = models.ForeignKey(
        Calendar, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolution_calendar = models.ForeignKey(
        Calendar, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approval_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("How long a reply may wait for a reviewer.")
    )
    approval_calendar = models.ForeignKey(
        Calendar, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    warning_percent = models.PositiveSmallIntegerField(
        default=75, validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text=_("Warn when this share of the target has been used."),
    )
    raise_priority_on_breach = models.BooleanField(default=True)
    notify_lead = models.BooleanField(
        default=True, help_text=_("Team leads get warnings and breaches, not only the assignee.")
    )
    escalate_to_lead_on_breach = models.BooleanField(
        default=False, help_text=_("On a breach, assign the ticket to a lead of its team.")
    )
    updated_at = models.DateTimeField(auto_now=True)

    TARGETS = ("first_response", "next_response", "resolution", "approval")

    class Meta:
        ordering = ["is_fallback", "order", "pk"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        constraints = [
            models.UniqueConstraint(
                fields=["is_fallback"], condition=Q(is_fallback=True), name="sla_one_fallback_policy"
            )
        ]

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        valid = {
            "channel_kinds": set(Channel.Kind.values),
            "priorities": set(Priority.values),
            "intents": set(Intent.values),
        }
        for name, allowed in valid.items():
            value = getattr(self, name)
            if not isinstance(value, list) or not set(value) <= allowed:
                errors[name] = _("Choose from: %(values)s") % {"values": ", ".join(sorted(allowed))}
        for target in self.TARGETS:
            minutes = getattr(self, f"{target}_minutes")
            if minutes is not None and getattr(self, f"{target}_calendar_id") is None:
                errors[f"{target}_calendar"] = _("A target needs a calendar.")
            if minutes == 0:
                errors[f"{target}_minutes"] = _("Leave it empty for no target.")
        if self.is_fallback and (
            self.channel_kinds or self.priorities or self.intents or self.formal_complaint
        ):
            errors["is_fallback"] = _("The fallback policy applies to everything: clear the conditions.")
        if errors:
            raise ValidationError(errors)

    def matches(self, *, channel_kind: str, priority: str, intent: str, formal: bool) -> bool:
        if self.is_fallback:
            return True
        if self.channel_kinds and channel_kind not in self.channel_kinds:
            return False
        if self.priorities and priority not in self.priorities:
            return False
        if self.intents and intent not in self.intents:
            return False
        if self.formal_complaint == FormalComplaintMatch.YES and not formal:
            return False
        return not (self.formal_complaint == FormalComplaintMatch.NO and formal)

    def target(self, kind: str) -> tuple[timedelta, "Calendar"] | None:
        minutes = getattr(self, f"{kind}_minutes")
        calendar = getattr(self, f"{kind}_calendar")
        if not minutes or calendar is None:
            return None
        return timedelta(minutes=minutes), calendar


class RegulatoryRule(models.Model):
    """The regulator's deadline for a formal complaint of one category."""

    class DayKind(models.TextChoices):
        BUSINESS = "business", _("Business days")
        CALENDAR = "calendar", _("Calendar days")

    category = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    days = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    day_kind = models.CharField(max_length=10, choices=DayKind.choices, default=DayKind.BUSINESS)
    calendar = models.ForeignKey(
        Calendar, on_delete=models.PROTECT, related_name="+",
        help_text=_("Business days and holidays; its time zone ends each day."),
    )
    warning_percent = models.PositiveSmallIntegerField(
        default=75, validators=[MinValueValidator(1), MaxValueValidator(99)]
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class DepartmentTarget(models.Model):
    """How fast a department answers care; for one department, or every department of a kind."""

    department = models.OneToOneField(
        Department, null=True, blank=True, on_delete=models.CASCADE, related_name="sla_target"
    )
    department_kind = models.CharField(
        max_length=32, choices=Department.Kind.choices, blank=True,
        help_text=_("Applies to every department of this kind without its own target."),
    )
    minutes = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    calendar = models.ForeignKey(Calendar, on_delete=models.PROTECT, related_name="+")
    warning_percent = models.PositiveSmallIntegerField(
        default=75, validators=[MinValueValidator(1), MaxValueValidator(99)]
    )

    class Meta:
        ordering = ["department_kind", "department__name"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(department__isnull=False) & Q(department_kind=""))
                | (Q(department__isnull=True) & ~Q(department_kind="")),
                name="sla_depttarget_department_xor_kind",
            ),
            models.UniqueConstraint(
                fields=["department_kind"], condition=~Q(department_kind=""),
                name="sla_depttarget_one_per_kind",
            ),
        ]

    def __str__(self):
        return str(self.department or self.get_department_kind_display())

    def clean(self):
        if bool(self.department_id) == bool(self.department_kind):
            raise ValidationError(_("Choose either one department or a kind of department."))


class ClockKind(models.TextChoices):
    FIRST_RESPONSE = "first_response", _("First response")
    NEXT_RESPONSE = "next_response", _("Next response")
    RESOLUTION = "resolution", _("Resolution")
    DEPARTMENT = "department", _("Department answer")
    REGULATORY = "regulatory", _("Regulatory deadline")


# Waiting on the customer pauses these; the regulator's and a department's clocks keep running.
PAUSABLE_KINDS = (ClockKind.FIRST_RESPONSE, ClockKind.NEXT_RESPONSE, ClockKind.RESOLUTION)
# Promises to the customer (ticket.sla_due / sla_status); the department clock is internal.
CUSTOMER_KINDS = (*PAUSABLE_KINDS, ClockKind.REGULATORY)


class ClockState(models.TextChoices):
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    MET = "met", _("Met")
    STOPPED = "stopped", _("Stopped")


OPEN_CLOCK_STATES = (ClockState.RUNNING, ClockState.PAUSED)


class SlaClock(models.Model):
    # Indexed by (ticket, kind) below.
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="sla_clocks", db_index=False
    )
    kind = models.CharField(max_length=20, choices=ClockKind.choices)
    state = models.CharField(max_length=10, choices=ClockState.choices, default=ClockState.RUNNING)
    # No indexes on these four: every index is written again when the sweep flags a clock,
    # while they are only searched when an admin deletes a policy, rule, department or calendar.
    policy = models.ForeignKey(
        SlaPolicy, null=True, blank=True, on_delete=models.SET_NULL, db_index=False
    )
    rule = models.ForeignKey(
        RegulatoryRule, null=True, blank=True, on_delete=models.SET_NULL, db_index=False
    )
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.SET_NULL, db_index=False
    )
    calendar = models.ForeignKey(
        Calendar, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    target = models.DurationField(
        null=True, blank=True, help_text=_("Open time allowed; empty for a fixed (regulatory) deadline.")
    )
    warning_percent = models.PositiveSmallIntegerField(default=75)
    started_at = models.DateTimeField()
    # Open time used by the finished running segments, and when the current one began.
    elapsed = models.DurationField(default=timedelta(0))
    segment_started_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    warn_at = models.DateTimeField(null=True, blank=True)
    # Set once the sweep has recorded the warning / breach of the current generation.
    warned_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    # A recompute that moves a recorded warning or breach into the future starts a new
    # generation, so the new threshold is warned about (once) again.
    generation = models.PositiveSmallIntegerField(default=0)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "kind"], condition=Q(state__in=["running", "paused"]),
                name="sla_clock_one_open_per_kind",
            )
        ]
        indexes = [
            # The sweep's two range scans: their cost follows the clocks crossing, not the
            # clocks open, because only unrecorded running clocks are in these indexes.
            models.Index(
                fields=["warn_at"], name="sla_clock_warn_pending",
                condition=Q(state="running", warned_at__isnull=True),
            ),
            models.Index(
                fields=["due_at"], name="sla_clock_breach_pending",
                condition=Q(state="running", breached_at__isnull=True),
            ),
            models.Index(fields=["ticket", "kind"], name="sla_clock_ticket_kind"),
        ]

    def __str__(self):
        return f"{self.ticket_id} {self.kind} {self.state}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_CLOCK_STATES


class SlaEvent(models.Model):
    class Kind(models.TextChoices):
        START = "start", _("Started")
        PAUSE = "pause", _("Paused")
        RESUME = "resume", _("Resumed")
        FULFIL = "fulfil", _("Fulfilled")
        STOP = "stop", _("Stopped")
        WARNING = "warning", _("Warning")
        BREACH = "breach", _("Breach")
        RECOMPUTE = "recompute", _("Recomputed")

    # Both indexed together with `at` below.
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="sla_events", db_index=False
    )
    clock = models.ForeignKey(
        SlaClock, null=True, blank=True, on_delete=models.CASCADE, related_name="events",
        db_index=False,
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    generation = models.PositiveSmallIntegerField(default=0)
    at = models.DateTimeField(help_text=_("When it happened on the clock."))
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Warnings and breaches: when their notifications and breach actions were carried out.
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["clock", "kind", "generation"], condition=Q(kind__in=["warning", "breach"]),
                name="sla_event_alert_once",
            )
        ]
        indexes = [
            models.Index(fields=["ticket", "at"], name="sla_event_ticket_at"),
            models.Index(fields=["clock", "at"], name="sla_event_clock_at"),
            models.Index(
                fields=["created_at"], name="sla_event_unhandled",
                condition=Q(kind__in=["warning", "breach"], handled_at__isnull=True),
            ),
        ]

    def __str__(self):
        return f"{self.ticket_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"


ALERT_KINDS = (SlaEvent.Kind.WARNING, SlaEvent.Kind.BREACH)


class ApprovalAlert(models.Model):
    """A warning or breach of a reply's approval turnaround, recorded once per submission.

    Replies and their `approval_due` belong to apps.replies; the sweep only reads the ones
    waiting for a reviewer. A reply rejected, revised and submitted again is a new submission
    and is timed again.
    """

    reply = models.ForeignKey(
        "replies.Reply", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    submitted_at = models.DateTimeField(help_text=_("The submission the alert is about."))
    kind = models.CharField(
        max_length=10,
        choices=[(k.value, k.label) for k in ALERT_KINDS],
    )
    at = models.DateTimeField(help_text=_("The instant crossed."))
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # When the reviewers and leads were notified (or the alert found moot).
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        constraints = [
            # Also the index the sweep's "not recorded yet" lookups use.
            models.UniqueConstraint(
                fields=["reply", "submitted_at", "kind"], name="sla_approval_alert_once"
            )
        ]
        indexes = [
            models.Index(
                fields=["created_at"], name="sla_approval_unhandled",
                condition=Q(handled_at__isnull=True),
            ),
        ]

    def __str__(self):
        return f"reply {self.reply_id} approval {self.kind} {self.at:%Y-%m-%d %H:%M}"
