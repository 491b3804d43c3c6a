"""Canned replies: team-owned answer templates in one language, with a few safe placeholders."""

import re

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import Team

# The only placeholders a canned reply may use; they are filled server-side on insert.
PLACEHOLDERS = {
    "customer_name": _("the customer's name"),
    "ticket_ref": _("the ticket reference, e.g. CT-000123"),
    "agent_first_name": _("your first name"),
}
PLACEHOLDER_RE = re.compile(r"\{([a-z_]+)\}")
MAX_BODY = 5000


class CannedReply(models.Model):
    name = models.CharField(_("name"), max_length=120)
    body = models.TextField(
        _("text"),
        help_text=_("Placeholders: {customer_name}, {ticket_ref}, {agent_first_name}."),
    )
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="canned_replies",
        verbose_name=_("team"),
        help_text=_("Empty: offered to every team."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "language"]
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")
        constraints = [
            models.UniqueConstraint(
                fields=["team", "language", "name"], name="canned_unique_name_per_team_language"
            ),
            models.UniqueConstraint(
                fields=["language", "name"],
                condition=Q(team__isnull=True),
                name="canned_unique_name_per_language_shared",
            ),
        ]
        indexes = [models.Index(fields=["language", "is_active"], name="canned_lang_active")]

    def __str__(self):
        return f"{self.name} ({self.language})"

    @property
    def placeholders_used(self) -> list[str]:
        return sorted(set(PLACEHOLDER_RE.findall(self.body)))
