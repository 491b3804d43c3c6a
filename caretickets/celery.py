"""Celery application: every setting comes from Django settings under CELERY_."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caretickets.settings.dev")

app = Celery("caretickets")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
