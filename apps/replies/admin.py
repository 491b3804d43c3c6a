"""Admin: policies are editable; replies, the outbox and the audit are read-only records here
(replies change only through their workflow, in the application)."""

from django.contrib import admin

from apps.tickets.admin import TicketVisibleAdminMixin

from . import services
from .models import (
    ApprovalPolicy,
    Outbox,
    PublishAttempt,
    Reply,
    ReplyEvent,
    ReplyVersion,
    SettingChange,
    WatchTerm,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReplyVersionInline(admin.TabularInline):
    model = ReplyVersion
    extra = 0
    fields = ["number", "role", "edited_by", "created_at", "body"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class ReplyEventInline(admin.TabularInline):
    model = ReplyEvent
    extra = 0
    fields = ["created_at", "actor", "transition", "from_state", "to_state", "reason"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Reply)
class ReplyAdmin(TicketVisibleAdminMixin, ReadOnlyAdmin):
    list_display = ["pk", "ticket", "author", "state", "delivery", "is_public", "approval_due", "reviewer",
                    "published_at"]
    list_filter = ["state", "delivery", "is_public"]
    search_fields = ["body", "ticket__subject", "author__username", "external_id"]
    list_select_related = ["ticket", "author", "reviewer"]
    raw_id_fields = ["ticket", "in_reply_to", "message"]
    inlines = [ReplyVersionInline, ReplyEventInline]


class PublishAttemptInline(admin.TabularInline):
    model = PublishAttempt
    extra = 0
    fields = ["number", "started_at", "finished_at", "outcome", "reconciling", "sandbox", "http_status",
              "error"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Outbox)
class OutboxAdmin(TicketVisibleAdminMixin, ReadOnlyAdmin):
    ticket_path = "reply__ticket"
    list_display = ["pk", "reply", "status", "attempts", "next_attempt_at", "external_id", "sent_at"]
    list_filter = ["status"]
    search_fields = ["external_id", "idempotency_key"]
    inlines = [PublishAttemptInline]


class SettingsAdmin(admin.ModelAdmin):
    """Changes made here go through the same services as the pages, so they are audited too."""

    readonly_fields = ["updated_by", "updated_at"]
    save_service = delete_service = None

    def save_model(self, request, obj, form, change):
        self.save_service(obj, actor=request.user)

    def delete_model(self, request, obj):
        self.delete_service(obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(ApprovalPolicy)
class ApprovalPolicyAdmin(SettingsAdmin):
    list_display = ["order", "name", "rule", "scope", "is_active", "updated_by", "updated_at"]
    list_display_links = ["name"]
    list_editable = ["order", "is_active"]
    list_filter = ["rule", "scope", "is_active"]

    @staticmethod
    def save_service(obj, *, actor):
        services.approval_policy_save(policy=obj, actor=actor)

    @staticmethod
    def delete_service(obj, *, actor):
        services.approval_policy_delete(policy=obj, actor=actor)


@admin.register(WatchTerm)
class WatchTermAdmin(SettingsAdmin):
    list_display = ["pattern", "language", "is_regex", "is_active", "note"]
    list_filter = ["language", "is_regex", "is_active"]
    search_fields = ["pattern", "note"]

    @staticmethod
    def save_service(obj, *, actor):
        services.watch_term_save(term=obj, actor=actor)

    @staticmethod
    def delete_service(obj, *, actor):
        services.watch_term_delete(term=obj, actor=actor)


@admin.register(SettingChange)
class SettingChangeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor", "subject", "action", "object_repr"]
    list_filter = ["subject", "action"]
    search_fields = ["object_repr", "actor__username"]
    list_select_related = ["actor"]
