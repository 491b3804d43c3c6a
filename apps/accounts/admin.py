from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import Department, Team, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "first_name", "last_name", "email", "is_active", "in_training")
    list_filter = ("is_active", "is_superuser", "groups", "teams", "departments", "in_training")
    filter_horizontal = ("groups", "user_permissions", "teams", "departments")
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (_("Care"), {
            "fields": ("teams", "departments", "language", "timezone", "in_training"),
            "description": _("Whether an author is in training is changed on the approval rules "
                             "page (Authors in training), where every change is audited."),
        }),
    )
    # Audited elsewhere (apps.replies.services.author_training_set): never changed silently here.
    readonly_fields = ("in_training",)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "default_language")
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ("name",)


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "confidential")
    list_filter = ("kind", "confidential")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("routes",)
    search_fields = ("name",)
