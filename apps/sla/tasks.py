"""Celery tasks of the SLA engine: thin wrappers that take ids and call one service."""

from celery import shared_task

from . import services


@shared_task(name="apps.sla.tasks.sla_sweep", ignore_result=True)
def sla_sweep() -> dict:
    """Beat runs this every minute: record due warnings and breaches, queue their actions.

    Idempotent: a second, overlapping run records nothing the first one recorded.
    """
    result = services.sla_sweep()
    return {"breaches": len(result.breaches), "warnings": len(result.warnings)}


@shared_task(
    name="apps.sla.tasks.sla_events_act", ignore_result=True, acks_late=True,
    autoretry_for=(Exception,), retry_backoff=True, max_retries=5,
)
def sla_events_act(event_ids: list[int]) -> int:
    """Notify and act for these recorded alerts; alerts already handled are skipped."""
    return services.sla_events_act(event_ids=event_ids)


@shared_task(
    name="apps.sla.tasks.sla_approval_alerts_act", ignore_result=True, acks_late=True,
    autoretry_for=(Exception,), retry_backoff=True, max_retries=5,
)
def sla_approval_alerts_act(alert_ids: list[int]) -> int:
    """Notify reviewers and leads of these approval alerts; alerts already handled are skipped."""
    return services.sla_approval_alerts_act(alert_ids=alert_ids)


@shared_task(name="apps.sla.tasks.sla_recompute", ignore_result=True, acks_late=True)
def sla_recompute(ticket_ids: list[int] | None = None) -> int:
    """Rebuild deadlines of these open tickets (all open tickets when None)."""
    return services.sla_recompute(ticket_ids=ticket_ids)
