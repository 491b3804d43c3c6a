"""Celery beat runs the SLA sweep every minute; the schedule is a django-celery-beat row, so
it can be changed or paused in the admin (Periodic tasks)."""

from django.db import migrations

TASK_NAME = "SLA sweep"


def forwards(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "apps.sla.tasks.sla_sweep",
            "interval": every_minute,
            # A sweep still queued when the next one is due is dropped, not run late.
            "expire_seconds": 55,
            "description": "Records SLA warnings and breaches and queues their notifications.",
        },
    )


def backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("sla", "0002_default_calendars_and_policies"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
