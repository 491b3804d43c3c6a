"""For leads: the rules at a glance, and a box to try a text against them before a post does."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from apps.accounts import roles
from apps.tickets.models import Channel, Identity, Ticket

from . import selectors
from .models import triage_languages
from .services import triage_classify


class TryForm(forms.Form):
    text = forms.CharField(label=_("Text"), max_length=5000, widget=forms.Textarea(attrs={"rows": 5}))
    channel = forms.ModelChoiceField(label=_("Channel"), queryset=Channel.objects.filter(is_active=True))
    followers = forms.IntegerField(label=_("Author's followers"), min_value=0, required=False)


def _may_see_rules(user) -> bool:
    return roles.is_admin(user) or roles.has_role(user, roles.LEAD)


@login_required
def rules(request):
    if not _may_see_rules(request.user):
        raise PermissionDenied
    form = TryForm(request.GET if "text" in request.GET else None)
    preview = None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        identity = Identity(followers_count=data["followers"]) if data["followers"] else None
        result = triage_classify(text=data["text"], channel=data["channel"], identity=identity)
        # An unsaved ticket carrying the result, so the ticket page's own partial renders it.
        preview = Ticket(
            channel=data["channel"], language=result.language, intent=result.intent, sentiment=result.sentiment,
            priority=result.priority, team=result.team, confidential=result.confidential,
            triage_explanation=result.explanation,
        )
    context = {"form": form, "preview": preview}
    if request.htmx:
        return TemplateResponse(request, "triage/rules.html#try-result", context)
    counts = selectors.keyword_counts()
    languages = ["any", *triage_languages()]
    context.update({
        "routes": selectors.routing_rules(),
        "languages": languages,
        "keyword_rows": [(aspect, [counts[aspect][lang] for lang in languages]) for aspect in counts],
        "can_edit": request.user.is_staff and request.user.has_perm("triage.change_keywordrule"),
    })
    return TemplateResponse(request, "triage/rules.html", context)
