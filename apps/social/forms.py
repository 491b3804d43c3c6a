import re
from datetime import timedelta

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.tickets.models import Channel
from apps.tickets.selectors import ticket_visible_qs

from .services import INTAKE_KINDS

REFERENCE_RE = re.compile(r"^\s*(?:CT-)?0*(\d{1,12})\s*$", re.IGNORECASE)


class ContactLogForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("What arrived"), widget=forms.RadioSelect,
        choices=[(kind, Channel.Kind(kind).label) for kind in INTAKE_KINDS],
        initial=Channel.Kind.LETTER,
    )
    received_at = forms.DateTimeField(
        label=_("Received at"), initial=lambda: timezone.localtime().replace(second=0, microsecond=0),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    ticket_reference = forms.CharField(
        label=_("Existing ticket"), max_length=20, required=False,
        help_text=_("CT-000123 to add it to that ticket; empty to thread it by customer."),
    )
    subject = forms.CharField(label=_("Subject"), max_length=300, required=False)
    text = forms.CharField(
        label=_("Content"), widget=forms.Textarea(attrs={"rows": 10}), max_length=settings.MESSAGE_MAX_CHARS,
        help_text=_("The letter's text, or what the customer said on the phone."),
    )
    is_formal_complaint = forms.BooleanField(
        label=_("Formal complaint"), required=False,
        help_text=_("Starts the regulator's deadline when it opens a new ticket."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_phone(self):
        phone = self.cleaned_data["phone"].strip()
        if phone and not re.fullmatch(r"[\d\s+()./-]{5,40}", phone):
            raise forms.ValidationError(_("Use digits, spaces and + only."))
        return phone

    def clean_received_at(self):
        received = self.cleaned_data["received_at"]
        if received > timezone.now() + timedelta(minutes=5):
            raise forms.ValidationError(_("That is in the future."))
        return received

    def clean_ticket_reference(self):
        value = self.cleaned_data["ticket_reference"]
        if not value.strip():
            return None
        match = REFERENCE_RE.match(value)
        ticket = (
            ticket_visible_qs(self.user).select_related("customer").filter(pk=int(match.group(1))).first()
            if match else None
        )
        if ticket is None:
            raise forms.ValidationError(_("No ticket %(ref)s that you can see.") % {"ref": value.strip()})
        return ticket

    def clean(self):
        data = super().clean()
        if not data.get("ticket_reference") and not any(data.get(f) for f in ("name", "email", "phone")):
            raise forms.ValidationError(_("Say who wrote or called: a name, an e-mail or a phone number."))
        return data
