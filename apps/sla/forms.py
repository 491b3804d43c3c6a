from django import forms
from django.utils.translation import gettext_lazy as _

from .models import RegulatoryRule


class FormalComplaintForm(forms.Form):
    """Which regulator's rule a complaint falls under; empty withdraws the flag."""

    category = forms.ChoiceField(label=_("Formal complaint"), required=False)
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        rules = RegulatoryRule.objects.filter(is_active=True).order_by("name")
        self.fields["category"].choices = [
            ("", _("Not a formal complaint")),
            *((rule.category, f"{rule.name} — {rule.days} {rule.get_day_kind_display().lower()}") for rule in rules),
        ]
