from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class TriageConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.triage"
    label = "triage"

    def ready(self):
        from .classifiers import rules_changed
        from .models import KeywordRule, RoutingRule

        for model in (KeywordRule, RoutingRule):
            post_save.connect(rules_changed, sender=model, dispatch_uid=f"triage.rules_changed.save.{model.__name__}")
            post_delete.connect(
                rules_changed, sender=model, dispatch_uid=f"triage.rules_changed.delete.{model.__name__}"
            )
