from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import ANY_LANGUAGE, KeywordRule, RoutingRule, triage_languages


def _language_choices(*, allow_any: bool):
    first = [(ANY_LANGUAGE, _("Any language"))] if allow_any else [("", _("Any language"))]
    return first + [(code, code) for code in triage_languages()]


class KeywordRuleForm(forms.ModelForm):
    class Meta:
        model = KeywordRule
        fields = ("pattern", "is_regex", "aspect", "target", "language", "weight", "note", "is_active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].widget = forms.Select(choices=_language_choices(allow_any=True))
        targets = [("", "---------")]
        for aspect, choices in KeywordRule.TARGETS.items():
            targets.append((aspect.label, [(value, label) for value, label in choices.choices]))
        self.fields["target"].widget = forms.Select(choices=targets)


@admin.register(KeywordRule)
class KeywordRuleAdmin(admin.ModelAdmin):
    form = KeywordRuleForm
    list_display = ("pattern", "aspect", "target", "language", "weight", "is_regex", "is_active", "note")
    list_editable = ("weight", "is_active")
    list_filter = ("aspect", "language", "target", "is_active", "is_regex")
    search_fields = ("pattern", "note")


class RoutingRuleForm(forms.ModelForm):
    class Meta:
        model = RoutingRule
        fields = (
            "name", "order", "is_active", "channel_kind", "intent", "min_priority", "language", "keywords",
            "team", "department_kind", "confidential",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].widget = forms.Select(choices=_language_choices(allow_any=False))


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    form = RoutingRuleForm
    list_display = (
        "name", "order", "conditions", "team", "department_kind", "confidential", "is_active",
    )
    list_editable = ("order", "is_active")
    list_filter = ("is_active", "confidential", "department_kind", "team")
    search_fields = ("name", "keywords")
    list_select_related = ("team",)

    @admin.display(description=_("when"))
    def conditions(self, obj):
        parts = [
            str(label) for label, value in (
                (obj.get_channel_kind_display(), obj.channel_kind),
                (obj.get_intent_display(), obj.intent),
                (_("priority ≥ %(p)s") % {"p": obj.get_min_priority_display()}, obj.min_priority),
                (obj.language, obj.language),
            ) if value
        ]
        if obj.keyword_list:
            parts.append(", ".join(obj.keyword_list[:5]) + ("…" if len(obj.keyword_list) > 5 else ""))
        return " · ".join(parts) or _("always")
