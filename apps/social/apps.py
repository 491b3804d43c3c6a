from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class SocialConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.social"
    label = "social"

    def ready(self):
        from apps.tickets.models import Channel

        from .selectors import forget_channels

        post_save.connect(forget_channels, sender=Channel, dispatch_uid="social.forget_channels.save")
        post_delete.connect(forget_channels, sender=Channel, dispatch_uid="social.forget_channels.delete")
