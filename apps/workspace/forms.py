import functools

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from apps.tickets.models import Channel, Intent, Priority, Sentiment, TicketState

from . import selectors
from .models import MAX_BODY, PLACEHOLDER_RE, PLACEHOLDERS, CannedReply

ANY = _("Any")


def _with_blank(choices):
    return [("", ANY), *choices]


class QueueFilterForm(forms.Form):
    """The queue's query string. Anything a user can type into the address bar is validated here."""

    view = forms.ChoiceField(
        required=False,
        choices=[
            (selectors.VIEW_MINE, _("Mine")),
            (selectors.VIEW_TEAM, _("My team's unassigned")),
            (selectors.VIEW_ALL, _("All I may see")),
        ],
    )
    q = forms.CharField(required=False, max_length=200, label=_("Search"))
    channel = forms.ChoiceField(required=False, choices=_with_blank(Channel.Kind.choices), label=_("Channel"))
    state = forms.ChoiceField(
        required=False,
        label=_("State"),
        choices=[
            (selectors.STATE_ACTIVE, _("Active (not resolved)")),
            *TicketState.choices,
            (selectors.STATE_ANY, _("Any state")),
        ],
    )
    priority = forms.ChoiceField(required=False, choices=_with_blank(Priority.choices), label=_("Priority"))
    intent = forms.ChoiceField(required=False, choices=_with_blank(Intent.choices), label=_("Intent"))
    language = forms.ChoiceField(required=False, choices=_with_blank(settings.LANGUAGES), label=_("Language"))
    sentiment = forms.ChoiceField(required=False, choices=_with_blank(Sentiment.choices), label=_("Sentiment"))
    team = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label=_("Team"))
    department = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label=_("Department"))
    sla = forms.ChoiceField(
        required=False,
        label=_("Deadline"),
        choices=[
            ("", _("Any")),
            (selectors.SLA_BREACHED, _("Breached")),
            ("15", _("Breaching within 15 min")),
            ("60", _("Breaching within 60 min")),
        ],
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # Loaded only when a select is drawn or a team/department is asked for: the 15-second
        # poll of the rows needs neither.
        lists = functools.cache(lambda: selectors.queue_filter_choices(user))
        self.fields["team"].choices = lambda: _with_blank(lists()["teams"])
        self.fields["department"].choices = lambda: _with_blank(lists()["departments"])

    def filters(self) -> selectors.QueueFilters:
        """The valid part of the query; invalid fields fall back to their defaults."""
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        values = {name: data[name] for name in self.fields if data.get(name) not in (None, "")}
        values.setdefault("view", selectors.VIEW_ALL)
        return selectors.QueueFilters(**values)

    @property
    def active_count(self) -> int:
        """How many filters narrow the list (the view and the search are shown elsewhere)."""
        data = getattr(self, "cleaned_data", {})
        return sum(
            1 for name in ("channel", "priority", "intent", "language", "sentiment", "team",
                           "department", "sla")
            if data.get(name) not in (None, "")
        ) + (1 if data.get("state") else 0)


class CannedReplyForm(forms.ModelForm):
    class Meta:
        model = CannedReply
        fields = ["name", "language", "team", "body", "is_active"]
        widgets = {"body": forms.Textarea(attrs={"rows": 8, "maxlength": MAX_BODY})}

    def __init__(self, *args, teams, allow_shared: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams
        self.fields["team"].required = not allow_shared
        self.fields["team"].empty_label = _("Every team") if allow_shared else None

    def clean_body(self):
        body = self.cleaned_data["body"].strip()
        if len(body) > MAX_BODY:
            raise forms.ValidationError(
                _("Keep it under %(max)s characters.") % {"max": MAX_BODY}
            )
        unknown = sorted(set(PLACEHOLDER_RE.findall(body)) - set(PLACEHOLDERS))
        if unknown:
            raise forms.ValidationError(
                _("Unknown placeholder %(names)s. Use %(known)s.")
                % {
                    "names": ", ".join("{" + n + "}" for n in unknown),
                    "known": ", ".join("{" + n + "}" for n in PLACEHOLDERS),
                }
            )
        return body

    def validate_unique(self):
        # The database constraint treats "every team" (NULL) as distinct; check it here too.
        super().validate_unique()
        data = self.cleaned_data
        if {"name", "language"} <= data.keys() and data.get("team") is None:
            clash = CannedReply.objects.filter(
                team__isnull=True, language=data["language"], name__iexact=data["name"]
            ).exclude(pk=self.instance.pk)
            if clash.exists():
                self.add_error("name", _("A shared reply with this name exists in this language."))


class CannedPickForm(forms.Form):
    q = forms.CharField(required=False, max_length=120, label=_("Find a canned reply"))
    lang = forms.ChoiceField(required=False, choices=_with_blank(settings.LANGUAGES), label=_("Language"))
