from django.contrib import admin

from apps.tickets.admin import TicketVisibleAdminMixin

from .models import Notification


@admin.register(Notification)
class NotificationAdmin(TicketVisibleAdminMixin, admin.ModelAdmin):
    ticket_optional = True
    list_display = ("created_at", "user", "kind", "title", "read_at")
    list_filter = ("kind",)
    raw_id_fields = ("user", "ticket")
