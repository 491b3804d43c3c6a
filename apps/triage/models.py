"""Rules leads edit: keyword lists with weights, and routing rules that pick team or department.

Matching is case- and accent-insensitive. A keyword matches whole words; a trailing `*` matches
any ending (`discriminat*` finds "discriminated" and "discriminatie"). Tick "regular expression"
for anything a word list cannot say.
"""

import re
import unicodedata
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import Department, Team
from apps.tickets.models import Channel, Intent, Priority, Sentiment

ANY_LANGUAGE = "any"
DEFAULT_LANGUAGES = ("it", "nl", "en", "de", "fr", "es")


def triage_languages() -> tuple[str, ...]:
    return tuple(getattr(settings, "TRIAGE_LANGUAGES", DEFAULT_LANGUAGES))


def normalize(text: str) -> str:
    """Casefolded, accents removed, spaces collapsed: "Perché  no" and "perche no" are equal."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("\u2019", "'"))
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def keyword_stem(keyword: str) -> str:
    """The literal part of a keyword: a cheap substring test before the word-boundary regex."""
    return normalize(keyword).rstrip("*").strip()


@lru_cache(maxsize=4096)
def keyword_regex(keyword: str) -> re.Pattern:
    prefix = keyword.strip().endswith("*")
    body = r"\s+".join(re.escape(part) for part in keyword_stem(keyword).split())
    return re.compile(rf"(?<!\w){body}" + (r"\w*" if prefix else r"(?!\w)"))


def split_keywords(value: str) -> list[str]:
    return [k.strip() for k in re.split(r"[,\n]", value or "") if k.strip()]


class KeywordRule(models.Model):
    class Aspect(models.TextChoices):
        INTENT = "intent", _("Intent")
        SENTIMENT = "sentiment", _("Sentiment")
        PRIORITY = "priority", _("Priority")

    TARGETS = {Aspect.INTENT: Intent, Aspect.SENTIMENT: Sentiment, Aspect.PRIORITY: Priority}

    language = models.CharField(
        max_length=8, default=ANY_LANGUAGE,
        help_text=_("Applies to texts detected in this language, or 'any'."),
    )
    aspect = models.CharField(max_length=10, choices=Aspect.choices)
    pattern = models.CharField(
        _("keyword"), max_length=200,
        help_text=_("A word or phrase; end it with * for any ending. A regular expression if ticked below."),
    )
    is_regex = models.BooleanField(_("regular expression"), default=False)
    target = models.CharField(
        max_length=32, help_text=_("The intent, sentiment or priority this keyword points to."),
    )
    weight = models.PositiveSmallIntegerField(
        default=1, help_text=_("How strongly it counts (1–10) when several keywords disagree."),
    )
    note = models.CharField(max_length=200, blank=True, help_text=_("Shown in the ticket's explanation."))
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["aspect", "language", "pattern"]
        constraints = [
            models.UniqueConstraint(
                fields=["language", "aspect", "pattern", "target"], name="keyword_rule_unique"
            )
        ]

    def __str__(self):
        return f"{self.pattern} → {self.aspect} {self.target} ({self.language})"

    def clean(self):
        errors = {}
        if self.language not in (ANY_LANGUAGE, *triage_languages()):
            errors["language"] = _("Use 'any' or one of: %(langs)s.") % {"langs": ", ".join(triage_languages())}
        choices = self.TARGETS.get(self.aspect)
        if choices is not None and self.target not in choices.values:
            errors["target"] = _("For %(aspect)s use one of: %(values)s.") % {
                "aspect": self.aspect, "values": ", ".join(choices.values),
            }
        if not (self.pattern or "").strip().strip("*"):
            errors["pattern"] = _("Write a keyword.")
        elif self.is_regex:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                errors["pattern"] = _("Not a valid regular expression: %(err)s") % {"err": exc}
        if not 1 <= (self.weight or 0) <= 10:
            errors["weight"] = _("Use a weight from 1 to 10.")
        if errors:
            raise ValidationError(errors)

    def compiled(self) -> re.Pattern:
        if self.is_regex:
            return re.compile(self.pattern, re.IGNORECASE)
        return keyword_regex(self.pattern)


class RoutingRule(models.Model):
    """The first active rule, by order, whose every filled-in condition holds decides routing."""

    name = models.CharField(max_length=100)
    order = models.PositiveIntegerField(default=100, help_text=_("Lower runs first; the first match wins."))
    is_active = models.BooleanField(default=True)
    channel_kind = models.CharField(
        max_length=20, blank=True, choices=Channel.Kind.choices, help_text=_("Blank: any channel."),
    )
    intent = models.CharField(max_length=32, blank=True, choices=Intent.choices, help_text=_("Blank: any intent."))
    min_priority = models.CharField(
        _("priority at least"), max_length=10, blank=True, choices=Priority.choices,
        help_text=_("Blank: any priority."),
    )
    language = models.CharField(max_length=8, blank=True, help_text=_("Blank: any language."))
    keywords = models.TextField(
        blank=True, help_text=_("Comma- or line-separated; any one of them must appear. Blank: no keyword needed."),
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE,
        help_text=_("Team that gets the ticket. Blank: the channel's team."),
    )
    department_kind = models.CharField(
        _("suggest escalation to"), max_length=32, blank=True, choices=Department.Kind.choices,
        help_text=_("Department agents are advised to escalate to."),
    )
    confidential = models.BooleanField(
        default=False, help_text=_("Only members of confidential departments (HR) and admins see the ticket."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "pk"]

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        if not (self.team_id or self.department_kind or self.confidential):
            errors["team"] = _("Choose a team, a department to suggest, or mark the rule confidential.")
        if self.language and self.language not in triage_languages():
            errors["language"] = _("Use one of: %(langs)s.") % {"langs": ", ".join(triage_languages())}
        if errors:
            raise ValidationError(errors)

    @property
    def keyword_list(self) -> list[str]:
        return split_keywords(self.keywords)
