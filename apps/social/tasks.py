"""Ingest tasks: thin wrappers that call one service each."""

from celery import shared_task

from . import services


@shared_task(name="social.inbound_events_process_pending", acks_late=True)
def inbound_events_process_pending() -> int:
    """Process the events waiting, in batches; webhooks queue this on commit (a few times a
    second at most), beat when events wait too long. Any number may run at once.

    When time runs out with events left, another run is queued at once; when events wait for
    a retry, a run is queued for the earliest of them.
    """
    drained = services.inbound_events_process_pending()
    if drained.more:
        inbound_events_process_pending.delay()
    elif drained.next_retry_at is not None and not inbound_events_process_pending.app.conf.task_always_eager:
        inbound_events_process_pending.apply_async(eta=drained.next_retry_at)
    return drained.processed


@shared_task(name="social.inbound_events_requeue_stale")
def inbound_events_requeue_stale() -> int:
    """Beat: wake processing for events that have waited too long (e.g. the broker was down)."""
    return services.inbound_events_requeue_stale()
