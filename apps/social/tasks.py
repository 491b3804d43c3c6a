"""Ingest tasks: thin wrappers that take ids and call one service each."""

import logging
import traceback

from celery import shared_task
from django.conf import settings

from . import services

logger = logging.getLogger(__name__)


def retry_delay(retries: int) -> int:
    """5 s, 10 s, 20 s, 40 s… capped at 10 minutes."""
    return min(5 * 2**retries, 600)


@shared_task(bind=True, name="social.inbound_event_process", acks_late=True,
             max_retries=getattr(settings, "INGEST_MAX_RETRIES", 5))
def inbound_event_process(self, event_id: int) -> None:
    """Process one stored inbound event; retried with backoff, then parked as failed.

    Safe to run twice (acks_late, redelivery, replay): the service skips events already done.
    """
    try:
        services.inbound_event_process(event_id=event_id)
    except Exception as exc:
        final = self.request.retries >= self.max_retries
        services.inbound_event_failure_record(
            event_id=event_id, error=traceback.format_exc(limit=20), final=final
        )
        if final:
            logger.error("Inbound event %s failed for good: %s", event_id, exc)
            return
        raise self.retry(exc=exc, countdown=retry_delay(self.request.retries))


@shared_task(name="social.inbound_events_requeue_stale")
def inbound_events_requeue_stale() -> int:
    """Beat: queue again events that have waited too long (e.g. the broker was down)."""
    return services.inbound_events_requeue_stale()
