from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender, using="default", apps=None, **kwargs):
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    from .services import roles_sync

    # Roles reference permissions of apps migrated after this one: create those first.
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    roles_sync()


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.accounts"
    label = "accounts"

    def ready(self):
        # Permissions exist only after migrate's post_migrate; the role groups follow them.
        post_migrate.connect(_sync_roles, sender=self, dispatch_uid="accounts.sync_roles")
