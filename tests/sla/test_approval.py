"""The sweep times replies waiting for a reviewer: one warning and one breach per submission."""

from datetime import timedelta

import pytest

from apps.notifications.models import Notification
from apps.replies import services as reply_services
from apps.sla import services
from apps.sla.models import ApprovalAlert
from apps.tickets import services as ticket_services
from apps.tickets.models import Message
from tests.factories import CustomerFactory

from .conftest import rome

pytestmark = pytest.mark.django_db


def escalated_ticket(world, clock, n=0):
    """A public post now with Legal: every reply on it needs a reviewer (approval policy "escalated")."""
    ticket = ticket_services.ticket_create(
        channel=world.channel, customer=CustomerFactory(), subject="Mis-sold policy", created_at=clock.now
    )
    ticket_services.message_record(
        ticket=ticket, channel=world.channel, direction=Message.Direction.IN, body="I was mis-sold.",
        created_at=clock.now, external_id=f"t-{n}",
    )
    for name, params in (("triage", {}), ("claim", {}), ("escalate", {"department": world.legal})):
        ticket.refresh_from_db()
        ticket_services.ticket_transition(ticket=ticket, transition=name, actor=world.agent,
                                          reason="Lawyer letter", **params)
    ticket.refresh_from_db()
    return ticket


@pytest.fixture
def escalated(world, clock):
    return escalated_ticket(world, clock)


def submit(ticket, author):
    reply = reply_services.reply_create(ticket=ticket, author=author, body="We are checking.", is_public=True)
    return reply_services.reply_submit(reply=reply, actor=author)


def sweep(now, capture):
    with capture(execute=True):
        return services.sla_sweep(now=now)


def notified(kind):
    return sorted(Notification.objects.filter(kind=kind).values_list("user__username", flat=True))


def test_a_reply_waiting_for_approval_is_warned_and_breached_once_each(
    escalated, clock, world, django_capture_on_commit_callbacks
):
    reply = submit(escalated, world.agent)
    assert reply.state == "awaiting_approval"
    # Public social: 30 minutes, 24/7; the warning at 75 %.
    assert reply.approval_due == rome(2025, 3, 3, 10, 30)
    assert sweep(clock.advance(minutes=22), django_capture_on_commit_callbacks).approvals == []

    result = sweep(clock.advance(minutes=1), django_capture_on_commit_callbacks)
    (warning,) = ApprovalAlert.objects.filter(pk__in=result.approvals)
    assert (warning.kind, warning.at) == ("warning", rome(2025, 3, 3, 10, 22, 30))
    warning.refresh_from_db()
    assert warning.handled_at is not None and warning.data["notified"] == ["compliance", "lead"]
    assert notified("approval_warning") == ["compliance", "lead"]  # never the author
    assert sweep(clock.advance(minutes=1), django_capture_on_commit_callbacks).approvals == []

    result = sweep(clock.set(rome(2025, 3, 3, 10, 31)), django_capture_on_commit_callbacks)
    (breach,) = ApprovalAlert.objects.filter(pk__in=result.approvals)
    assert (breach.kind, breach.at) == ("breach", reply.approval_due)
    assert notified("approval_breach") == ["compliance", "lead"]
    reviewer_note = Notification.objects.get(kind="approval_breach", user=world.compliance_user)
    assert reviewer_note.url == "/replies/approvals/" and escalated.reference in reviewer_note.title
    for _round in range(2):
        assert sweep(clock.advance(minutes=5), django_capture_on_commit_callbacks).approvals == []
    assert services.sla_approval_alerts_act(alert_ids=[warning.pk, breach.pk]) == 0
    assert ApprovalAlert.objects.count() == 2
    assert Notification.objects.filter(kind__startswith="approval_").exclude(
        kind="approval_requested").count() == 4


def test_a_reply_crossing_both_thresholds_between_sweeps_gets_only_the_breach(
    escalated, clock, world, django_capture_on_commit_callbacks
):
    submit(escalated, world.agent)
    sweep(clock.advance(hours=1), django_capture_on_commit_callbacks)
    sweep(clock.advance(minutes=1), django_capture_on_commit_callbacks)
    assert list(ApprovalAlert.objects.values_list("kind", flat=True)) == ["breach"]


def test_a_decided_reply_is_not_timed_and_a_resubmission_is_timed_again(
    escalated, clock, world, django_capture_on_commit_callbacks
):
    reply = submit(escalated, world.agent)
    clock.advance(minutes=10)
    reply = reply_services.reply_reject(reply=reply, reviewer=world.compliance_user, reason="No dates.")
    assert sweep(clock.advance(hours=1), django_capture_on_commit_callbacks).approvals == []

    reply = reply_services.reply_update(reply=reply, author=world.agent, body="We are checking it.",
                                        is_public=True, wait_for_customer=False)
    reply = reply_services.reply_submit(reply=reply, actor=world.agent)
    assert reply.approval_due == clock.now + timedelta(minutes=30)
    result = sweep(clock.advance(minutes=31), django_capture_on_commit_callbacks)
    (breach,) = ApprovalAlert.objects.filter(pk__in=result.approvals)
    assert (breach.kind, breach.submitted_at) == ("breach", reply.submitted_at)


def test_an_alert_for_a_reply_approved_before_the_actions_ran_notifies_nobody(escalated, clock, world):
    reply = submit(escalated, world.agent)
    result = services.sla_sweep(now=clock.advance(minutes=31))  # the worker has not run yet
    reply_services.reply_approve(reply=reply, reviewer=world.compliance_user)
    assert services.sla_approval_alerts_act(alert_ids=result.approvals) == 1
    alert = ApprovalAlert.objects.get(pk=result.approvals[0])
    assert "skipped" in alert.data and notified("approval_breach") == []


def test_lost_approval_actions_are_queued_again(escalated, clock, world, django_capture_on_commit_callbacks):
    submit(escalated, world.agent)
    first = services.sla_sweep(now=clock.advance(minutes=31))  # the task was lost
    assert sweep(clock.advance(minutes=1), django_capture_on_commit_callbacks).approvals == []
    again = sweep(clock.advance(minutes=5), django_capture_on_commit_callbacks)
    assert again.approvals == first.approvals
    assert notified("approval_breach") == ["compliance", "lead"]


# --- PostgreSQL: two sweeps at the same time ------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_concurrent_sweeps_alert_each_waiting_reply_exactly_once(clock, world):
    from .test_sweep import _run_together

    for n in range(10):
        submit(escalated_ticket(world, clock, n), world.agent)
    now = clock.advance(minutes=31)
    for _round in range(2):
        # Both may queue the same alert (one recorded it, the other saw it unhandled): the
        # actions claim each alert once.
        _run_together(lambda: services.sla_sweep(now=now), lambda: services.sla_sweep(now=now))
    assert ApprovalAlert.objects.filter(kind="breach").count() == 10
    assert not ApprovalAlert.objects.filter(handled_at__isnull=True).exists()
    # Eager Celery acted on commit in each thread: one notice per person per reply.
    assert Notification.objects.filter(kind="approval_breach").count() == 20
