"""Celery tasks: thin, idempotent, each calls one service."""

from celery import shared_task

from . import services


@shared_task(acks_late=True, ignore_result=True)
def outbox_publish(outbox_id: int) -> str:
    """Publish one outbox row; safe to run twice or concurrently (the row is claimed first)."""
    return services.outbox_publish(outbox_id=outbox_id)


@shared_task(ignore_result=True)
def outbox_requeue_stale() -> int:
    """Re-queue outbox rows whose publish task was lost (Celery beat, every minute)."""
    return services.outbox_requeue_stale()
