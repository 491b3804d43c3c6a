from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import translation
from django.utils.translation import gettext as _

from .models import User


class PreferencesForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["language", "timezone"]


@login_required
def preferences(request):
    form = PreferencesForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        translation.activate(form.instance.language or translation.get_language())
        messages.success(request, _("Preferences saved."))
        response = redirect("accounts:preferences")
        if form.instance.language:
            response.set_cookie("django_language", form.instance.language, samesite="Lax")
        return response
    return TemplateResponse(request, "accounts/preferences.html", {"form": form})
