"""The shipped triage defaults, for tests that run after a transactional test flushed the DB."""

from importlib import import_module

from django.apps import apps

from apps.triage.models import KeywordRule

defaults = import_module("apps.triage.migrations.0002_default_rules")
generalised = import_module("apps.triage.migrations.0003_generalised_rules")
gaps = import_module("apps.triage.migrations.0004_safety_disability_gaps")


def ensure_default_rules() -> None:
    """Transactional tests elsewhere empty every table, data migrations' rows included."""
    if not KeywordRule.objects.exists():
        defaults.add_defaults(apps, None)
        generalised.add_rules(apps, None)
        gaps.add_rules(apps, None)
