"""Forms validate shape only; the services decide what is allowed."""

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import Department
from apps.tickets.models import Intent, Message

from .models import ApprovalPolicy, WatchTerm
from .selectors import MAX_BODY
from .services import MAX_REASON


class ComposerForm(forms.Form):
    body = forms.CharField(max_length=MAX_BODY, required=False, strip=True)
    visibility = forms.ChoiceField(choices=[("public", _("Public")), ("private", _("Private"))],
                                   required=False)
    wait_for_customer = forms.BooleanField(required=False)
    in_reply_to = forms.ModelChoiceField(queryset=Message.objects.none(), required=False)
    reply = forms.IntegerField(required=False, min_value=1)
    make_private = forms.BooleanField(required=False)

    def __init__(self, *args, ticket, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["in_reply_to"].queryset = Message.objects.filter(
            ticket=ticket, direction=Message.Direction.IN
        ).select_related("author_identity")

    @property
    def is_public(self) -> bool:
        if self.cleaned_data.get("make_private"):
            return False
        return self.cleaned_data.get("visibility") != "private"


class VersionedForm(forms.Form):
    version = forms.IntegerField(min_value=1)


class ApproveForm(VersionedForm):
    body = forms.CharField(max_length=MAX_BODY, required=False, strip=True,
                           widget=forms.Textarea(attrs={"rows": 5}))
    edit = forms.BooleanField(required=False)


class RejectForm(VersionedForm):
    reason = forms.CharField(max_length=MAX_REASON, strip=True)


class RetryForm(forms.Form):
    checked_not_posted = forms.BooleanField(required=False)


class ConfirmForm(forms.Form):
    external_id = forms.CharField(max_length=255, required=False, strip=True)


class WithdrawForm(forms.Form):
    reason = forms.CharField(max_length=MAX_REASON, required=False, strip=True)


class ApprovalPolicyForm(forms.ModelForm):
    intents = forms.MultipleChoiceField(
        choices=Intent.choices, required=False, widget=forms.CheckboxSelectMultiple,
        help_text=_("Only for the intent rule."),
    )

    class Meta:
        model = ApprovalPolicy
        fields = ["name", "order", "is_active", "rule", "intents", "scope", "explanation"]
        widgets = {"explanation": forms.Textarea(attrs={"rows": 3})}


class WatchTermForm(forms.ModelForm):
    class Meta:
        model = WatchTerm
        fields = ["pattern", "is_regex", "language", "note", "is_active"]


class TrainingForm(forms.Form):
    in_training = forms.TypedChoiceField(choices=[("1", _("In training")), ("0", _("Not in training"))],
                                         coerce=lambda value: value == "1")
    reason = forms.CharField(max_length=MAX_REASON, required=False, strip=True)


class GuidanceForm(forms.Form):
    body = forms.CharField(max_length=10_000, strip=True)


class DepartmentTransitionForm(forms.Form):
    version = forms.IntegerField(min_value=1)
    reason = forms.CharField(max_length=4000, strip=True)
    to = forms.ModelChoiceField(queryset=Department.objects.none(), required=False)

    def __init__(self, *args, department, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to"].queryset = department.routes.all()
