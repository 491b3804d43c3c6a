from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SlaConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.sla"
    label = "sla"
    verbose_name = _("Service levels")

    def ready(self):
        from apps.tickets import hooks

        from . import services

        # In-transaction: the deadline columns commit or roll back with the change behind them.
        hooks.subscribe("tickets_created", services.sla_on_tickets_created)
        hooks.subscribe("ticket_transitioned", services.sla_on_ticket_transitioned)
        hooks.subscribe("messages_recorded", services.sla_on_messages_recorded)
        hooks.subscribe("ticket_merged", services.sla_on_ticket_merged)
