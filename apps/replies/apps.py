from django.apps import AppConfig


class RepliesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.replies"
    label = "replies"

    def ready(self):
        from apps.tickets import hooks

        from .services import message_flag_personal_data, messages_flag_personal_data

        # Inbound public posts are scanned in the ingest transaction, so the flag is never missing,
        # and scanned again when their author edits them on the network.
        hooks.subscribe("messages_recorded", messages_flag_personal_data)
        hooks.subscribe("message_edited", message_flag_personal_data)
