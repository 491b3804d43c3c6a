"""The sweep: warnings and breaches recorded exactly once, then notified and acted on."""

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection, transaction

from apps.notifications.models import Notification
from apps.sla import services
from apps.sla.models import ClockKind, SlaClock, SlaEvent, SlaPolicy
from apps.tickets import services as ticket_services
from apps.tickets.models import SlaStatus, Ticket, TicketEvent

from .conftest import reply

pytestmark = pytest.mark.django_db


def assigned_ticket(open_ticket, world, **fields):
    ticket = open_ticket(**fields)
    ticket_services.ticket_transition(ticket=ticket, transition="triage", actor=world.agent)
    ticket.refresh_from_db()
    ticket_services.ticket_transition(ticket=ticket, transition="claim", actor=world.agent)
    ticket.refresh_from_db()
    return ticket


def sweep(now, capture):
    with capture(execute=True):
        return services.sla_sweep(now=now)


def test_warning_at_three_quarters_of_the_target_notifies_assignee_and_lead(
    open_ticket, clock, world, django_capture_on_commit_callbacks
):
    ticket = assigned_ticket(open_ticket, world)
    assert sweep(clock.advance(minutes=44), django_capture_on_commit_callbacks).event_ids == []
    result = sweep(clock.advance(minutes=2), django_capture_on_commit_callbacks)
    assert len(result.warnings) == 1 and result.breaches == []
    event = SlaEvent.objects.get(pk=result.warnings[0])
    assert (event.kind, event.clock.kind) == ("warning", "first_response")
    assert event.at == ticket.created_at + timedelta(minutes=45)
    assert event.handled_at is not None and sorted(event.data["notified"]) == ["agent", "lead"]
    ticket.refresh_from_db()
    assert ticket.sla_status == SlaStatus.WARNING
    notes = Notification.objects.filter(ticket=ticket, kind="sla_warning")
    assert sorted(n.user.username for n in notes) == ["agent", "lead"]
    assert "due soon" in notes[0].title and ticket.reference in notes[0].title
    assert sorted(m.to[0] for m in mail.outbox if "due soon" in m.subject) == [
        "agent@bank.example", "lead@bank.example",
    ]
    # The next sweeps find nothing new.
    assert sweep(clock.advance(minutes=1), django_capture_on_commit_callbacks).event_ids == []


def test_breach_raises_priority_once_and_is_audited(open_ticket, clock, world, django_capture_on_commit_callbacks):
    ticket = assigned_ticket(open_ticket, world)
    sweep(clock.advance(minutes=50), django_capture_on_commit_callbacks)
    result = sweep(clock.advance(minutes=11), django_capture_on_commit_callbacks)
    assert len(result.breaches) == 1 and result.warnings == []
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.sla_status) == ("high", SlaStatus.BREACHED)
    audit = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.SLA)
    assert audit.actor is None
    assert (audit.data["priority_from"], audit.data["priority_to"]) == ("normal", "high")
    assert Notification.objects.filter(ticket=ticket, kind="sla_breach").count() == 2
    # Acting again on the same alert does nothing: handled, and notifications are keyed.
    assert services.sla_events_act(event_ids=result.breaches) == 0
    assert sweep(clock.advance(minutes=5), django_capture_on_commit_callbacks).event_ids == []
    ticket.refresh_from_db()
    assert ticket.priority == "high"
    assert Notification.objects.filter(ticket=ticket, kind="sla_breach").count() == 2


def test_a_clock_that_crossed_both_thresholds_since_the_last_sweep_gets_only_the_breach(
    open_ticket, clock, world, django_capture_on_commit_callbacks
):
    ticket = assigned_ticket(open_ticket, world)
    result = sweep(clock.advance(hours=2), django_capture_on_commit_callbacks)
    assert len(result.breaches) == 1 and result.warnings == []
    first = SlaClock.objects.get(ticket=ticket, kind=ClockKind.FIRST_RESPONSE)
    assert first.warned_at is not None and first.breached_at is not None
    assert sweep(clock.advance(minutes=1), django_capture_on_commit_callbacks).event_ids == []


def test_breach_on_an_urgent_ticket_escalates_to_the_team_lead(
    open_ticket, clock, world, django_capture_on_commit_callbacks
):
    ticket = assigned_ticket(open_ticket, world, priority="urgent")
    sweep(clock.advance(minutes=16), django_capture_on_commit_callbacks)
    ticket.refresh_from_db()
    assert ticket.assignee == world.lead
    assert ticket.priority == "urgent"  # already the highest
    assign = TicketEvent.objects.get(ticket=ticket, transition="assign")
    assert assign.actor is None and assign.data["sla_clock"] == "first_response"
    assert Notification.objects.filter(user=world.lead, ticket=ticket, kind="assigned").exists()


def test_an_alert_whose_clock_ended_meanwhile_notifies_nobody(open_ticket, clock, world):
    ticket = assigned_ticket(open_ticket, world)
    result = services.sla_sweep(now=clock.advance(minutes=50))  # actions not run yet
    reply(ticket, at=clock.advance(minutes=1))
    assert services.sla_events_act(event_ids=result.warnings) == 1
    event = SlaEvent.objects.get(pk=result.warnings[0])
    assert event.handled_at is not None and "skipped" in event.data
    assert not Notification.objects.filter(ticket=ticket, kind__startswith="sla_").exists()


def test_the_unique_constraint_refuses_a_second_alert_for_the_same_clock(open_ticket, clock, world):
    ticket = assigned_ticket(open_ticket, world)
    first = services.sla_sweep(now=clock.advance(minutes=50))
    # A sweep that read the clock before the first one committed would try again: the insert
    # conflicts and nothing is returned, so nothing is acted on twice.
    SlaClock.objects.filter(ticket=ticket, kind=ClockKind.FIRST_RESPONSE).update(warned_at=None)
    second = services.sla_sweep(now=clock.now)
    assert len(first.warnings) == 1 and second.warnings == []
    assert SlaEvent.objects.filter(ticket=ticket, kind="warning").count() == 1


def test_lost_actions_are_queued_again(open_ticket, clock, world, django_capture_on_commit_callbacks):
    ticket = assigned_ticket(open_ticket, world)
    result = services.sla_sweep(now=clock.advance(minutes=50))  # the worker never got the task
    assert sweep(clock.advance(minutes=2), django_capture_on_commit_callbacks).requeued == []
    clock.advance(minutes=6)
    again = sweep(clock.now, django_capture_on_commit_callbacks)
    assert again.requeued == result.warnings
    assert Notification.objects.filter(ticket=ticket, kind="sla_warning").count() == 2


def test_department_breach_notifies_the_department(open_ticket, clock, world, django_capture_on_commit_callbacks):
    ticket = assigned_ticket(open_ticket, world)
    reply(ticket, at=clock.advance(minutes=1))
    ticket.refresh_from_db()
    ticket_services.ticket_transition(ticket=ticket, transition="escalate", actor=world.agent,
                                      department=world.legal, reason="Lawyer letter")
    sweep(clock.advance(hours=5), django_capture_on_commit_callbacks)
    event = SlaEvent.objects.get(ticket=ticket, clock__kind="department", kind="breach")
    assert "legal" in event.data["notified"]
    ticket.refresh_from_db()
    # Legal being late is internal: it neither raises the priority nor marks the customer SLA.
    assert ticket.priority == "normal" and ticket.sla_status == SlaStatus.OK


def test_confidential_tickets_notify_only_people_who_may_see_them(
    open_ticket, clock, world, django_capture_on_commit_callbacks
):
    ticket = assigned_ticket(open_ticket, world)
    reply(ticket, at=clock.advance(minutes=1))
    ticket.refresh_from_db()
    ticket_services.ticket_transition(ticket=ticket, transition="escalate", actor=world.agent,
                                      department=world.hr, reason="About an employee")
    sweep(clock.advance(days=3), django_capture_on_commit_callbacks)
    notified = set(Notification.objects.filter(ticket=ticket, kind__startswith="sla_").values_list(
        "user__username", flat=True))
    assert notified == {"hr"}


def test_a_confidential_ticket_in_care_alerts_hr_when_nobody_in_care_may_see_it(
    open_ticket, clock, world, django_capture_on_commit_callbacks
):
    # A follow-up of an HR case: confidential from the start, unassigned, in care's queue.
    ticket = open_ticket(confidential=True)
    result = sweep(clock.advance(minutes=61), django_capture_on_commit_callbacks)
    assert len(result.breaches) == 1
    notified = set(Notification.objects.filter(ticket=ticket, kind="sla_breach").values_list(
        "user__username", flat=True))
    assert notified == {"hr"}


def test_a_more_lenient_policy_after_a_breach_allows_a_new_alert_at_the_new_deadline(
    open_ticket, clock, world, django_capture_on_commit_callbacks
):
    ticket = assigned_ticket(open_ticket, world)
    sweep(clock.advance(minutes=61), django_capture_on_commit_callbacks)
    SlaPolicy.objects.filter(name="Public social (X, Facebook, Instagram)").update(first_response_minutes=240)
    services.sla_recompute(now=clock.now)
    ticket.refresh_from_db()
    assert ticket.sla_status == SlaStatus.OK
    first = SlaClock.objects.get(ticket=ticket, kind=ClockKind.FIRST_RESPONSE)
    assert (first.generation, first.breached_at, first.warned_at) == (1, None, None)
    result = sweep(clock.advance(hours=4), django_capture_on_commit_callbacks)
    assert len(result.breaches) == 1
    assert SlaEvent.objects.filter(clock=first, kind="breach").count() == 2


def test_the_beat_schedule_is_editable(db):
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="apps.sla.tasks.sla_sweep")
    assert (task.interval.every, task.interval.period, task.enabled) == (1, "minutes", True)


# --- PostgreSQL: two sweeps at the same time ------------------------------------------------------


def _run_together(*fns):
    barrier = threading.Barrier(len(fns))
    results, errors = [None] * len(fns), []

    def run(i, fn):
        try:
            barrier.wait()
            results[i] = fn()
        except Exception as exc:  # surfaced in the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_concurrent_sweeps_record_and_notify_each_breach_exactly_once(open_ticket, clock, world):
    tickets = [assigned_ticket(open_ticket, world) for _ in range(20)]
    now = clock.advance(minutes=61)
    recorded = []
    for _round in range(2):
        results = _run_together(lambda: services.sla_sweep(now=now), lambda: services.sla_sweep(now=now))
        recorded += [i for r in results for i in r.breaches]
    assert len(recorded) == len(set(recorded))
    breaches = SlaEvent.objects.filter(kind="breach")
    assert breaches.count() == len(tickets)
    assert breaches.values("clock").distinct().count() == len(tickets)
    # Eager Celery acted on commit in each thread: one breach notice per person per ticket.
    assert Notification.objects.filter(kind="sla_breach").count() == 2 * len(tickets)
    assert TicketEvent.objects.filter(kind="sla").count() == len(tickets)
    assert set(Ticket.objects.values_list("priority", flat=True)) == {"high"}
    assert not breaches.filter(handled_at__isnull=True).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_acting_on_the_same_alerts_act_once(open_ticket, clock, world, monkeypatch):
    from apps.sla import tasks

    monkeypatch.setattr(tasks.sla_events_act, "delay_on_commit", lambda ids: None)  # act below
    for _ in range(20):
        assigned_ticket(open_ticket, world)
    ids = services.sla_sweep(now=clock.advance(minutes=61)).breaches
    done = _run_together(
        lambda: services.sla_events_act(event_ids=ids), lambda: services.sla_events_act(event_ids=ids[::-1])
    )
    assert sum(done) == 20
    assert TicketEvent.objects.filter(kind="sla").count() == 20
    assert Notification.objects.filter(kind="sla_breach").count() == 40


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_sweep_overlapping_an_uncommitted_one_skips_its_clocks_without_waiting(
    open_ticket, clock, world, monkeypatch
):
    from apps.sla import tasks

    monkeypatch.setattr(tasks.sla_events_act, "delay_on_commit", lambda ids: None)
    for _ in range(5):
        assigned_ticket(open_ticket, world)
    now = clock.advance(minutes=61)
    first_recorded, second_done = threading.Event(), threading.Event()

    def first():
        with transaction.atomic():
            result = services.sla_sweep(now=now)
            first_recorded.set()
            second_done.wait(10)  # still uncommitted while the second sweep runs
        return result

    def second():
        first_recorded.wait(10)
        try:
            return services.sla_sweep(now=now)
        finally:
            second_done.set()

    one, two = _run_together(first, second)
    assert len(one.breaches) == 5 and two.breaches == [] and two.warnings == []
    assert SlaEvent.objects.filter(kind="breach").count() == 5
