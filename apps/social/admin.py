from datetime import timedelta

from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.accounts import roles
from apps.tickets.admin import TicketVisibleAdminMixin
from apps.tickets.models import Ticket
from apps.tickets.selectors import ticket_visible_qs

from . import services
from .models import InboundDelivery, InboundEvent


class AttentionFilter(admin.SimpleListFilter):
    """Failed events, events failing and waiting for a retry, and events still waiting long
    after they arrived."""

    title = _("needs attention")
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [
            ("failed", _("Failed events")),
            ("retrying", _("Failing, to be retried")),
            ("stuck", _("Waiting over 10 minutes")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "failed":
            return queryset.filter(status=InboundEvent.Status.FAILED)
        if self.value() == "retrying":
            return queryset.filter(status=InboundEvent.Status.RECEIVED, attempts__gt=0)
        if self.value() == "stuck":
            return queryset.filter(
                status=InboundEvent.Status.RECEIVED, created_at__lt=timezone.now() - timedelta(minutes=10)
            )
        return queryset


@admin.register(InboundEvent)
class InboundEventAdmin(TicketVisibleAdminMixin, admin.ModelAdmin):
    ticket_optional = True
    list_display = ("created_at", "channel", "event_key", "status", "attempts", "detail", "ticket_link")
    list_filter = (AttentionFilter, "status", "channel")
    search_fields = ("event_key", "detail")
    date_hierarchy = "created_at"
    list_select_related = ("channel", "ticket")
    actions = ["replay"]
    readonly_fields = (
        "channel", "delivery_link", "event_key", "status", "attempts", "next_attempt_at", "detail",
        "last_error", "ticket_link", "message", "created_at", "processed_at",
    )
    exclude = ("delivery", "ticket")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("ticket"))
    def ticket_link(self, obj):
        if not obj.ticket_id:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse("tickets:detail", args=[obj.ticket_id]), obj.ticket)

    @admin.display(description=_("delivery"))
    def delivery_link(self, obj):
        url = reverse("admin:social_inbounddelivery_change", args=[obj.delivery_id])
        return format_html('<a href="{}">{}</a>', url, obj.delivery)

    @admin.action(description=_("Replay the selected failed or waiting events"))
    def replay(self, request, queryset):
        replayed = sum(services.inbound_event_replay(event=event) for event in queryset)
        skipped = queryset.count() - replayed
        self.message_user(
            request,
            ngettext("%(n)d event queued again.", "%(n)d events queued again.", replayed) % {"n": replayed},
            messages.SUCCESS,
        )
        if skipped:
            self.message_user(
                request, _("%(n)d already processed or ignored; left alone.") % {"n": skipped}, messages.WARNING
            )


@admin.register(InboundDelivery)
class InboundDeliveryAdmin(admin.ModelAdmin):
    list_display = ("received_at", "channel", "source", "size")
    list_filter = ("source", "channel")
    date_hierarchy = "received_at"
    readonly_fields = ("channel", "source", "received_at", "headers", "body_text")
    exclude = ("body",)

    def get_queryset(self, request):
        # The body is the customer's own text: hidden once any of its events went to a ticket
        # this user may not see (a confidential one, another team's).
        qs = super().get_queryset(request)
        if roles.is_admin(request.user):
            return qs
        hidden = Ticket.objects.exclude(pk__in=ticket_visible_qs(request.user).values("pk"))
        return qs.exclude(events__ticket__in=hidden)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("size (bytes)"))
    def size(self, obj):
        return len(obj.body)

    @admin.display(description=_("body"))
    def body_text(self, obj):
        """Shown as escaped text, never rendered: it is whatever the sender posted."""
        text = bytes(obj.body).decode("utf-8", errors="replace")
        return format_html("<pre style='white-space:pre-wrap;max-width:100ch'>{}</pre>", text[:100_000])
