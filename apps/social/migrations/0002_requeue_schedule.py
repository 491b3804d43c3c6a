"""Celery beat queues again, every five minutes, inbound events that have waited too long (the
broker was down when they arrived). A django-celery-beat row: editable in the admin."""

from django.db import migrations

TASK_NAME = "Inbound events: queue stale ones again"


def forwards(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_five, _ = IntervalSchedule.objects.get_or_create(every=5, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "social.inbound_events_requeue_stale",
            "interval": every_five,
            "expire_seconds": 240,
            "description": "Queues inbound events still 'received' ten minutes after arrival.",
        },
    )


def backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("social", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
