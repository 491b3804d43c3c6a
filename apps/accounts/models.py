import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(unique=True)
    default_language = models.CharField(max_length=8, default="it")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Department(models.Model):
    class Kind(models.TextChoices):
        CARE = "care", _("Customer care")
        LEGAL = "legal", _("Legal")
        COMPLIANCE = "compliance", _("Compliance")
        HR = "hr", _("HR")
        RISK = "risk", _("Risk management")
        COMPLAINTS_OFFICE = "complaints_office", _("Complaints office")
        MARKETING = "marketing", _("Marketing")
        OTHER = "other", _("Other")

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(unique=True)
    kind = models.CharField(max_length=32, choices=Kind.choices, default=Kind.OTHER)
    confidential = models.BooleanField(
        default=False,
        help_text=_("Tickets escalated here become confidential: only members and admins see them."),
    )
    routes = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        related_name="routes_from",
        help_text=_("Departments this one may transfer an escalated ticket to."),
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class User(AbstractUser):
    TIMEZONE_CHOICES = [(tz, tz) for tz in sorted(zoneinfo.available_timezones()) if "/" in tz]

    teams = models.ManyToManyField(Team, blank=True, related_name="members")
    departments = models.ManyToManyField(Department, blank=True, related_name="members")
    language = models.CharField(
        _("interface language"), max_length=8, choices=settings.LANGUAGES, blank=True
    )
    timezone = models.CharField(max_length=64, choices=TIMEZONE_CHOICES, default="Europe/Rome")
    in_training = models.BooleanField(
        default=False, help_text=_("Replies by agents in training may need approval.")
    )

    class Meta:
        ordering = ["username"]

    def __str__(self):
        return self.get_full_name() or self.username

    @property
    def display_name(self) -> str:
        return self.first_name or self.username
