"""SLA configuration in the admin, usable by team leads (the lead role has these permissions).

Saving a policy, a calendar, a regulatory rule or a department target recomputes the
deadlines of the open tickets it can affect, in the background; the "recompute" actions do
the same on demand.
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.tickets.admin import TicketVisibleAdminMixin
from apps.tickets.models import OPEN_STATES, Channel, Intent, Priority, Ticket

from . import tasks
from .models import (
    OPEN_CLOCK_STATES,
    Calendar,
    CalendarFrame,
    ClockKind,
    DepartmentTarget,
    FormalComplaintMatch,
    Holiday,
    RegulatoryRule,
    SlaClock,
    SlaEvent,
    SlaPolicy,
)

RECOMPUTE_ALL_ABOVE = 20_000


def _queue_recompute(request, ticket_ids: list[int] | None) -> None:
    """Recompute after the admin's transaction commits; None means every open ticket."""
    if ticket_ids is not None and not ticket_ids:
        messages.info(request, _("No open ticket is affected."))
        return
    if ticket_ids is not None and len(ticket_ids) > RECOMPUTE_ALL_ABOVE:
        ticket_ids = None  # a task message with that many ids is bigger than the work it saves
    tasks.sla_recompute.delay_on_commit(ticket_ids)
    if ticket_ids is None:
        messages.info(request, _("The deadlines of all open tickets are being recomputed."))
    else:
        messages.info(
            request,
            ngettext(
                "The deadlines of %(n)d open ticket are being recomputed.",
                "The deadlines of %(n)d open tickets are being recomputed.",
                len(ticket_ids),
            )
            % {"n": len(ticket_ids)},
        )


def _tickets_a_policy_can_affect(policy: SlaPolicy) -> list[int] | None:
    """Open tickets timed by the policy now, and those its conditions match (None: all).

    A ticket moves to or from this policy only if it is on it, or matches its conditions.
    """
    if policy.is_fallback:
        return None
    match = Q(state__in=OPEN_STATES)
    if policy.channel_kinds:
        match &= Q(channel__kind__in=policy.channel_kinds)
    if policy.priorities:
        match &= Q(priority__in=policy.priorities)
    if policy.intents:
        match &= Q(intent__in=policy.intents)
    if policy.formal_complaint:
        match &= Q(is_formal_complaint=policy.formal_complaint == FormalComplaintMatch.YES)
    ids = set(Ticket.objects.filter(match).values_list("pk", flat=True))
    ids.update(_open_tickets_with_clocks(Q(policy=policy)))
    return sorted(ids)


def _open_tickets_with_clocks(clock_filter: Q) -> list[int]:
    return list(
        SlaClock.objects.filter(clock_filter, state__in=OPEN_CLOCK_STATES)
        .values_list("ticket_id", flat=True)
        .distinct()
    )


class SlaPolicyForm(forms.ModelForm):
    channel_kinds = forms.MultipleChoiceField(
        choices=Channel.Kind.choices, required=False, widget=forms.CheckboxSelectMultiple,
        label=_("Channels"), help_text=_("None ticked = any channel."),
    )
    priorities = forms.MultipleChoiceField(
        choices=Priority.choices, required=False, widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked = any priority."),
    )
    intents = forms.MultipleChoiceField(
        choices=Intent.choices, required=False, widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked = any intent."),
    )

    class Meta:
        model = SlaPolicy
        fields = [
            "name", "order", "is_active", "is_fallback", "channel_kinds", "priorities", "intents",
            "formal_complaint", "first_response_minutes", "first_response_calendar",
            "next_response_minutes", "next_response_calendar", "resolution_minutes",
            "resolution_calendar", "approval_minutes", "approval_calendar", "warning_percent",
            "raise_priority_on_breach", "notify_lead", "escalate_to_lead_on_breach",
        ]


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    form = SlaPolicyForm
    list_display = [
        "name", "order", "is_active", "is_fallback", "conditions", "first_response_minutes",
        "next_response_minutes", "resolution_minutes", "approval_minutes",
    ]
    list_display_links = ["name"]
    list_filter = ["is_active"]
    actions = ["recompute_open_tickets"]
    fieldsets = [
        (None, {"fields": ["name", "order", "is_active", "is_fallback"]}),
        (_("Applies to"), {"fields": ["channel_kinds", "priorities", "intents", "formal_complaint"]}),
        (
            _("Targets (minutes of open time on the chosen calendar)"),
            {
                "fields": [
                    ("first_response_minutes", "first_response_calendar"),
                    ("next_response_minutes", "next_response_calendar"),
                    ("resolution_minutes", "resolution_calendar"),
                    ("approval_minutes", "approval_calendar"),
                    "warning_percent",
                ]
            },
        ),
        (
            _("On a breach"),
            {"fields": ["raise_priority_on_breach", "notify_lead", "escalate_to_lead_on_breach"]},
        ),
    ]

    @admin.display(description=_("Applies to"))
    def conditions(self, policy: SlaPolicy) -> str:
        if policy.is_fallback:
            return str(_("everything else"))
        parts = [", ".join(values) for values in (policy.channel_kinds, policy.priorities, policy.intents) if values]
        if policy.formal_complaint:
            parts.append(policy.get_formal_complaint_display())
        return " · ".join(parts) or str(_("any ticket"))

    def save_model(self, request, obj, form, change):
        # The tickets the policy could affect under its old conditions count as well.
        form.affected_before = (
            _tickets_a_policy_can_affect(SlaPolicy.objects.get(pk=obj.pk)) if change else []
        )
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        before = form.affected_before
        now = _tickets_a_policy_can_affect(form.instance)
        if before is None or now is None:
            _queue_recompute(request, None)
        else:
            _queue_recompute(request, sorted(set(before) | set(now)))

    def delete_model(self, request, obj):
        affected = _tickets_a_policy_can_affect(obj)
        super().delete_model(request, obj)
        _queue_recompute(request, affected)

    def delete_queryset(self, request, queryset):
        affected = set()
        for policy in queryset:
            tickets = _tickets_a_policy_can_affect(policy)
            if tickets is None:
                affected = None
                break
            affected.update(tickets)
        super().delete_queryset(request, queryset)
        _queue_recompute(request, None if affected is None else sorted(affected))

    @admin.action(description=_("Recompute the deadlines of open tickets"), permissions=["change"])
    def recompute_open_tickets(self, request, queryset):
        affected = set()
        for policy in queryset:
            tickets = _tickets_a_policy_can_affect(policy)
            if tickets is None:
                _queue_recompute(request, None)
                return
            affected.update(tickets)
        _queue_recompute(request, sorted(affected))


class CalendarFrameFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        if self.instance.always_open:
            return
        kept = [
            f for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE") and f.cleaned_data.get("start")
        ]
        if not kept:
            raise forms.ValidationError(_("A calendar that is not 24/7 needs opening hours."))


class CalendarFrameInline(admin.TabularInline):
    model = CalendarFrame
    formset = CalendarFrameFormSet
    extra = 0


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 0
    fields = ["name", "kind", "date", "month", "day", "easter_offset", "first_year", "last_year"]


@admin.register(Calendar)
class CalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone", "always_open", "updated_at"]
    inlines = [CalendarFrameInline, HolidayInline]
    actions = ["recompute_open_tickets"]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if change:
            _queue_recompute(request, _open_tickets_with_clocks(Q(calendar=form.instance)))

    @admin.action(description=_("Recompute the deadlines of open tickets"), permissions=["change"])
    def recompute_open_tickets(self, request, queryset):
        _queue_recompute(request, _open_tickets_with_clocks(Q(calendar__in=queryset)))


@admin.register(RegulatoryRule)
class RegulatoryRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "days", "day_kind", "calendar", "is_active"]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # Its own complaints, and those not classified yet: any rule may be the strictest.
        affected = set(_open_tickets_with_clocks(Q(rule=form.instance)))
        affected.update(
            Ticket.objects.filter(
                state__in=OPEN_STATES, is_formal_complaint=True, complaint_category=""
            ).values_list("pk", flat=True)
        )
        _queue_recompute(request, sorted(affected))


@admin.register(DepartmentTarget)
class DepartmentTargetAdmin(admin.ModelAdmin):
    list_display = ["__str__", "minutes", "calendar", "warning_percent"]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        _queue_recompute(request, _open_tickets_with_clocks(Q(kind=ClockKind.DEPARTMENT)))


class ReadOnlyAdmin(admin.ModelAdmin):
    """Clocks and their events are written by the engine only."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SlaEventInline(admin.TabularInline):
    model = SlaEvent
    extra = 0
    fields = ["kind", "at", "generation", "data", "handled_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SlaClock)
class SlaClockAdmin(TicketVisibleAdminMixin, ReadOnlyAdmin):
    list_display = ["ticket", "kind", "state", "started_at", "due_at", "warned_at", "breached_at"]
    list_filter = ["kind", "state"]
    list_select_related = ["ticket"]
    search_fields = ["=ticket__id"]
    raw_id_fields = ["ticket"]
    inlines = [SlaEventInline]


@admin.register(SlaEvent)
class SlaEventAdmin(TicketVisibleAdminMixin, ReadOnlyAdmin):
    list_display = ["ticket", "kind", "clock", "at", "handled_at"]
    list_filter = ["kind"]
    list_select_related = ["ticket", "clock"]
    search_fields = ["=ticket__id"]
    raw_id_fields = ["ticket", "clock"]

