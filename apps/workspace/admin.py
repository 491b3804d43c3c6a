from django.contrib import admin

from .models import CannedReply


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ["name", "language", "team", "is_active", "updated_at"]
    list_filter = ["language", "team", "is_active"]
    search_fields = ["name", "body"]
    readonly_fields = ["created_by", "updated_by", "created_at", "updated_at"]
