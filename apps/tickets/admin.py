from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_fsm.admin import FSMAdminMixin

from apps.accounts import roles
from apps.accounts.models import Department
from apps.core.exceptions import ApplicationError

from . import selectors, services
from .models import Channel, Customer, Identity, Message, Note, Ticket, TicketEvent

SECRET_MASK = "••••••••"


class TicketVisibleAdminMixin:
    """For the admin of anything that belongs to a ticket: only rows of tickets the user may see.

    The changelist, search, change/delete/history pages and actions all start from
    get_queryset, so a staff member who is not an admin gets 404-like redirects for rows of
    confidential tickets (or of other teams' tickets) exactly as in the application.
    `ticket_path` is the lookup from the row to its ticket; with `ticket_optional`, rows without
    a ticket stay visible.
    """

    ticket_path = "ticket"
    ticket_optional = False

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if roles.is_admin(request.user):
            return qs
        visible = Q(**{f"{self.ticket_path}__in": selectors.ticket_visible_qs(request.user).values("pk")})
        if self.ticket_optional:
            visible |= Q(**{f"{self.ticket_path}__isnull": True})
        return qs.filter(visible)


class ChannelForm(forms.ModelForm):
    """Secrets are write-only: the form shows masked values and keeps them unless retyped."""

    secrets_text = forms.CharField(
        label=_("Secrets"), required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One name=value per line. Masked values are kept as they are."),
    )

    class Meta:
        model = Channel
        fields = (
            "kind", "name", "slug", "team", "account_id", "api_base_url", "sandbox", "config", "is_active",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = self.instance.secrets or {}
        self.fields["secrets_text"].initial = "\n".join(f"{k}={SECRET_MASK}" for k in sorted(current))

    def clean_secrets_text(self):
        current = dict(self.instance.secrets or {})
        result = {}
        for line in self.cleaned_data["secrets_text"].splitlines():
            if not line.strip():
                continue
            if "=" not in line:
                raise forms.ValidationError(_("Write each secret as name=value."))
            name, value = (part.strip() for part in line.split("=", 1))
            result[name] = current.get(name, "") if value == SECRET_MASK else value
        return result

    def save(self, commit=True):
        self.instance.secrets = self.cleaned_data["secrets_text"]
        return super().save(commit=commit)


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = ("name", "kind", "slug", "team", "sandbox", "is_active")
    list_filter = ("kind", "sandbox", "is_active")
    prepopulated_fields = {"slug": ("name",)}


class IdentityInline(admin.TabularInline):
    model = Identity
    extra = 0


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("display_name", "email", "phone", "created_at")
    search_fields = ("display_name", "email", "identities__handle")
    inlines = [IdentityInline]


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea, max_length=services.MAX_REASON)


class DepartmentForm(ReasonForm):
    department = forms.ModelChoiceField(queryset=Department.objects.exclude(kind=Department.Kind.CARE))


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(queryset=get_user_model().objects.filter(is_active=True))


class MessageInline(admin.StackedInline):
    model = Message
    extra = 0
    fields = ("direction", "is_public", "author_identity", "author_user", "body", "external_id", "created_at")
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class TicketEventInline(admin.TabularInline):
    model = TicketEvent
    extra = 0
    fields = ("created_at", "actor", "kind", "transition", "from_state", "to_state", "reason")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Ticket)
class TicketAdmin(FSMAdminMixin, admin.ModelAdmin):
    """Transitions offered here are the user's allowed ones and run through the service.

    The form itself is read-only: confidentiality, team, department, assignee, state and the
    rest change only through transitions and services, which audit and raise the version.
    """

    fsm_fields = ["state"]
    fsm_forms = {
        "escalate": DepartmentForm,
        "transfer": DepartmentForm,
        "assign": AssignForm,
        "return_to_care": ReasonForm,
        "reopen": ReasonForm,
    }
    list_display = ("__str__", "state", "priority", "team", "department", "assignee", "sla_due", "created_at")
    list_filter = ("state", "priority", "channel__kind", "team", "department", "confidential", "intent")
    search_fields = ("subject",)
    raw_id_fields = ("customer", "linked_from", "merged_into", "assignee")
    readonly_fields = ("version", "triage_reasons", "triage_explanation", "created_at", "updated_at")
    inlines = [MessageInline, TicketEventInline]

    @admin.display(description=_("Why it landed here"))
    def triage_reasons(self, obj):
        """The stored (language-neutral) explanation as text in the reader's language."""
        from apps.triage.explain import render_explanation

        lines = [
            f"{aspect}: {reason}"
            for aspect, reasons in render_explanation(obj.triage_explanation).items() if isinstance(reasons, list)
            for reason in reasons
        ]
        return "\n".join(lines) or "—"

    def get_queryset(self, request):
        # Admins see everything; staff who are not superusers still obey the confidentiality rule.
        return selectors.ticket_visible_qs(request.user).select_related(
            "channel", "team", "department", "assignee"
        )

    def has_add_permission(self, request):
        # Tickets come from ingest or the intake form (ticket_create audits them); this would not.
        return False

    def get_readonly_fields(self, request, obj=None):
        editable = [f.name for f in self.model._meta.fields if f.editable and not f.primary_key]
        return tuple(dict.fromkeys([*super().get_readonly_fields(request, obj), *editable]))

    def save_model(self, request, obj, form, change):
        # Nothing is editable: saving would only write back the row as loaded, over any change
        # a transition or the SLA engine made meanwhile. Transition buttons still post here.
        return

    def _apply_fsm_transition(self, *, obj, transition_name, request, kwargs=None):
        kwargs = dict(kwargs or {})
        reason = kwargs.pop("reason", "")
        try:
            services.ticket_transition(
                ticket=obj, transition=transition_name, actor=request.user, reason=reason, **kwargs
            )
        except ApplicationError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return False
        self.message_user(request, _("Done: %(name)s.") % {"name": transition_name}, level=messages.SUCCESS)
        return True


@admin.register(Message)
class MessageAdmin(TicketVisibleAdminMixin, admin.ModelAdmin):
    list_display = ("ticket", "direction", "channel", "is_public", "created_at")
    list_filter = ("direction", "is_public", "channel")
    raw_id_fields = ("ticket", "author_identity", "author_user")
    search_fields = ("external_id",)


@admin.register(Note)
class NoteAdmin(TicketVisibleAdminMixin, admin.ModelAdmin):
    list_display = ("ticket", "author", "is_guidance", "created_at")
    raw_id_fields = ("ticket",)


@admin.register(TicketEvent)
class TicketEventAdmin(TicketVisibleAdminMixin, admin.ModelAdmin):
    """The audit trail is read-only everywhere, the admin included."""

    list_display = ("created_at", "ticket", "actor", "kind", "transition", "from_state", "to_state")
    list_filter = ("kind", "transition")
    raw_id_fields = ("ticket", "actor")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
