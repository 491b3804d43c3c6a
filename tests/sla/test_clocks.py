"""Clocks follow the workflow: start, pause on the customer, resume, fulfil, stop."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.template.loader import render_to_string

from apps.core.exceptions import ApplicationError, PermissionRefused
from apps.sla import business_time as bt
from apps.sla import engine, selectors, services
from apps.sla.models import ClockKind, ClockState, SlaClock, SlaEvent, SlaPolicy
from apps.tickets import services as ticket_services
from apps.tickets.models import SlaStatus, TicketEvent

from .conftest import customer_writes, reply, rome

pytestmark = pytest.mark.django_db


def italy():
    return engine.compiled_calendar(SlaPolicy.objects.get(name="E-mail").resolution_calendar)


def clocks_of(ticket, kind=None):
    qs = SlaClock.objects.filter(ticket=ticket).order_by("pk")
    return list(qs.filter(kind=kind) if kind else qs)


def transition(ticket, name, actor, **params):
    params.setdefault("reason", "because")
    ticket.refresh_from_db()
    ticket_services.ticket_transition(ticket=ticket, transition=name, actor=actor, **params)
    ticket.refresh_from_db()


def test_public_social_ticket_gets_one_hour_first_reply_and_two_business_days(open_ticket, clock):
    ticket = open_ticket()
    ticket.refresh_from_db()
    assert ticket.first_response_due == rome(2025, 3, 3, 11, 0)
    # 960 business minutes from Monday 10:00: Monday 7h, Tuesday 8h, Wednesday 9:00–10:00.
    assert ticket.resolution_due == rome(2025, 3, 5, 10, 0)
    assert ticket.sla_due == ticket.first_response_due
    assert ticket.sla_status == SlaStatus.OK
    assert ticket.next_response_due is None
    starts = SlaEvent.objects.filter(ticket=ticket, kind=SlaEvent.Kind.START)
    assert sorted(starts.values_list("clock__kind", flat=True)) == ["first_response", "resolution"]


def test_targets_by_channel_and_priority(open_ticket, clock, email_channel, linkedin_channel):
    linkedin = open_ticket(channel=linkedin_channel)
    assert linkedin.first_response_due == rome(2025, 3, 3, 10, 30)
    late_mail = open_ticket(channel=email_channel, at=rome(2025, 3, 3, 17, 0))
    # Eight business hours from Monday 17:00: one that day, seven on Tuesday.
    assert late_mail.first_response_due == rome(2025, 3, 4, 17, 0)
    urgent = open_ticket(priority="urgent")
    assert urgent.first_response_due == rome(2025, 3, 3, 10, 15)
    assert urgent.resolution_due == rome(2025, 3, 3, 15, 0)  # 4 business hours, lunch skipped


def test_a_published_reply_fulfils_the_first_response_but_notes_and_auto_replies_do_not(
    open_ticket, clock, world
):
    ticket = open_ticket()
    ticket_services.note_add(ticket=ticket, author=world.agent, body="Looking into it")
    reply(ticket, at=clock.advance(minutes=5), automatic=True)
    ticket.refresh_from_db()
    assert ticket.first_response_due == rome(2025, 3, 3, 11, 0)
    assert clocks_of(ticket, ClockKind.FIRST_RESPONSE)[0].state == ClockState.RUNNING

    replied_at = clock.advance(minutes=20)
    reply(ticket, at=replied_at, public=False, user=world.agent)
    ticket.refresh_from_db()
    first = clocks_of(ticket, ClockKind.FIRST_RESPONSE)[0]
    assert (first.state, first.ended_at) == (ClockState.MET, replied_at)
    assert ticket.first_response_due is None
    assert ticket.sla_due == ticket.resolution_due
    view = {c.kind: c for c in selectors.ticket_clocks(ticket)}
    assert view["first_response"].state == "met"
    assert view["first_response"].met_at == replied_at


def test_each_customer_message_after_a_reply_starts_the_next_response_clock(open_ticket, clock):
    ticket = open_ticket()
    reply(ticket, at=clock.advance(minutes=10))
    asked = clock.advance(minutes=30)
    customer_writes(ticket, at=asked)
    ticket.refresh_from_db()
    assert ticket.next_response_due == asked + timedelta(hours=1)
    # A second message while we still owe the answer does not move the deadline.
    customer_writes(ticket, at=clock.advance(minutes=10))
    ticket.refresh_from_db()
    assert ticket.next_response_due == asked + timedelta(hours=1)
    reply(ticket, at=clock.advance(minutes=5))
    ticket.refresh_from_db()
    assert ticket.next_response_due is None
    assert [c.state for c in clocks_of(ticket, ClockKind.NEXT_RESPONSE)] == [ClockState.MET]


def test_waiting_on_the_customer_pauses_and_the_paused_time_is_not_counted(open_ticket, clock, world):
    ticket = open_ticket()
    transition(ticket, "triage", world.agent)
    reply(ticket, at=clock.advance(minutes=10))
    original_due = clocks_of(ticket, ClockKind.RESOLUTION)[0].due_at
    paused_at = rome(2025, 3, 3, 16, 0)
    clock.set(paused_at)
    transition(ticket, "wait_for_customer", world.agent)
    ticket.refresh_from_db()
    assert ticket.state == "pending_customer"
    assert (ticket.resolution_due, ticket.sla_due) == (None, None)
    resolution = clocks_of(ticket, ClockKind.RESOLUTION)[0]
    assert resolution.state == ClockState.PAUSED
    paused_view = selectors.ticket_clocks(ticket)[-1]
    assert (paused_view.state, paused_view.due) == ("paused", None)
    # Monday 10:00–16:00 less the lunch hour used: 16 business hours allowed, 5 used.
    assert paused_view.seconds_left == 11 * 3600
    html = render_to_string("sla/_clocks.html", {"clocks": selectors.ticket_clocks(ticket)})
    assert 'data-clock="resolution" data-state="paused"' in html and "11h 00m left" in html

    resumed_at = clock.set(rome(2025, 3, 6, 11, 30))  # Thursday: the customer answers
    customer_writes(ticket, at=resumed_at)
    ticket_services.ticket_reopen_for_customer(ticket=ticket, at=resumed_at)
    ticket.refresh_from_db()
    assert ticket.state == "open"
    calendar = italy()
    paused = bt.business_time_between(paused_at, resumed_at, calendar)
    assert paused == timedelta(hours=20, minutes=30)  # Mon 16–18, Tue, Wed, Thu 9–11:30
    assert ticket.resolution_due == bt.add_business_time(original_due, paused, calendar)
    running = bt.business_time_between(ticket.created_at, paused_at, calendar) + bt.business_time_between(
        resumed_at, ticket.resolution_due, calendar
    )
    assert running == timedelta(minutes=960)
    # The customer wrote: we owe a response within the hour.
    assert ticket.next_response_due == resumed_at + timedelta(hours=1)
    assert [e.kind for e in SlaEvent.objects.filter(clock__kind="resolution").order_by("at", "pk")] == [
        "start", "pause", "resume",
    ]


def test_regulatory_clock_keeps_running_while_waiting_on_the_customer(open_ticket, clock, world):
    ticket = open_ticket(is_formal_complaint=True, complaint_category="payment_services")
    ticket.refresh_from_db()
    # Received Monday 3 March: 15 business days later is Monday 24 March, end of day.
    assert ticket.regulatory_due == rome(2025, 3, 24, 23, 59, 59)
    transition(ticket, "triage", world.agent)
    reply(ticket, at=clock.advance(minutes=10))
    transition(ticket, "wait_for_customer", world.agent)
    ticket.refresh_from_db()
    assert ticket.regulatory_due == rome(2025, 3, 24, 23, 59, 59)
    regulatory = clocks_of(ticket, ClockKind.REGULATORY)[0]
    assert regulatory.state == ClockState.RUNNING
    assert ticket.sla_due == ticket.regulatory_due
    views = {c.kind: c for c in selectors.ticket_clocks(ticket)}
    assert views["regulatory"].group == "regulatory"
    assert views["regulatory"].state == "running"
    assert views["resolution"].state == "paused"


def test_flagging_a_formal_complaint_later_counts_from_receipt_and_is_audited(open_ticket, clock, world):
    ticket = open_ticket()
    clock.advance(days=2)
    services.ticket_formal_complaint_set(ticket=ticket, category="banking", actor=world.agent)
    ticket.refresh_from_db()
    assert ticket.is_formal_complaint and ticket.complaint_category == "banking"
    assert ticket.regulatory_due == rome(2025, 5, 2, 23, 59, 59)  # 60 calendar days after 3 March
    audit = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.SLA)
    assert audit.actor == world.agent and audit.data["formal_complaint"] == "banking"

    services.ticket_formal_complaint_set(ticket=ticket, category="payment_services", actor=world.agent)
    assert [c.state for c in clocks_of(ticket, ClockKind.REGULATORY)] == [ClockState.STOPPED, ClockState.RUNNING]
    services.ticket_formal_complaint_set(ticket=ticket, category="", actor=world.agent)
    ticket.refresh_from_db()
    assert (ticket.is_formal_complaint, ticket.regulatory_due) == (False, None)

    with pytest.raises(ApplicationError):
        services.ticket_formal_complaint_set(ticket=ticket, category="astrology", actor=world.agent)
    with pytest.raises(PermissionRefused):
        services.ticket_formal_complaint_set(ticket=ticket, category="banking", actor=world.outsider)


def test_department_clock_runs_beside_the_customer_clocks(open_ticket, clock, world):
    ticket = open_ticket()
    transition(ticket, "triage", world.agent)
    before = clocks_of(ticket, ClockKind.RESOLUTION)[0].due_at
    transition(ticket, "escalate", world.agent, department=world.legal)
    ticket.refresh_from_db()
    # Legal answers within 4 business hours: Monday 10:00 → 15:00 (lunch is not counted).
    assert ticket.department_due == rome(2025, 3, 3, 15, 0)
    assert ticket.resolution_due == before
    assert ticket.first_response_due == rome(2025, 3, 3, 11, 0)

    clock.advance(hours=1)
    transition(ticket, "transfer", world.legal_user, department=world.compliance)
    legal, compliance = clocks_of(ticket, ClockKind.DEPARTMENT)
    assert (legal.state, legal.department, compliance.department) == (
        ClockState.STOPPED, world.legal, world.compliance,
    )
    clock.advance(hours=1)
    transition(ticket, "return_to_care", world.compliance_user, reason="Say we are checking.")
    ticket.refresh_from_db()
    assert ticket.department_due is None
    compliance.refresh_from_db()
    assert (compliance.state, compliance.ended_at) == (ClockState.MET, clock.now)
    views = {c.kind: c for c in selectors.ticket_clocks(ticket)}
    assert views["department"].detail == "Compliance" and views["department"].state == "met"


def test_clocks_stop_at_resolution_and_nothing_runs_in_a_closed_ticket(open_ticket, clock, world):
    ticket = open_ticket(is_formal_complaint=True, complaint_category="banking")
    transition(ticket, "triage", world.agent)
    resolved_at = clock.advance(minutes=40)
    transition(ticket, "resolve", world.agent)
    ticket.refresh_from_db()
    assert not SlaClock.objects.filter(ticket=ticket, state__in=["running", "paused"]).exists()
    states = {c.kind: c.state for c in clocks_of(ticket)}
    assert states == {"first_response": "stopped", "resolution": "met", "regulatory": "met"}
    assert clocks_of(ticket, ClockKind.RESOLUTION)[0].ended_at == resolved_at
    assert (ticket.sla_due, ticket.sla_status, ticket.regulatory_due) == (None, SlaStatus.NONE, None)

    transition(ticket, "close", world.agent)
    ticket.refresh_from_db()
    customer_writes(ticket, at=clock.advance(days=1))
    assert not SlaClock.objects.filter(ticket=ticket, state__in=["running", "paused"]).exists()
    result = services.sla_sweep(now=clock.advance(days=30))
    assert result.event_ids == []


def test_reopen_restarts_resolution_and_a_customer_reply_after_resolution_too(open_ticket, clock, world):
    ticket = open_ticket()
    transition(ticket, "triage", world.agent)
    reply(ticket, at=clock.advance(minutes=5))
    transition(ticket, "resolve", world.agent)
    reopened_at = clock.advance(hours=1)
    transition(ticket, "reopen", world.agent, reason="Refund not received")
    ticket.refresh_from_db()
    assert [c.state for c in clocks_of(ticket, ClockKind.RESOLUTION)] == ["met", "running"]
    assert ticket.resolution_due == bt.add_business_minutes(reopened_at, 960, italy())
    assert ticket.next_response_due is None  # nobody is waiting for an answer

    transition(ticket, "resolve", world.agent)
    wrote_at = clock.advance(hours=2)
    customer_writes(ticket, at=wrote_at)
    ticket_services.ticket_reopen_for_customer(ticket=ticket, at=wrote_at)
    ticket.refresh_from_db()
    assert ticket.state == "open"
    assert len(clocks_of(ticket, ClockKind.RESOLUTION)) == 3
    assert ticket.next_response_due == wrote_at + timedelta(hours=1)


def test_approval_turnaround_follows_the_ticket_policy(open_ticket, clock, email_channel):
    social = open_ticket()
    assert services.approval_due(ticket=social, submitted_at=clock.now) == clock.now + timedelta(minutes=30)
    mail = open_ticket(channel=email_channel)
    assert services.approval_due(ticket=mail, submitted_at=rome(2025, 3, 3, 17, 30)) == rome(2025, 3, 4, 10, 30)
    SlaPolicy.objects.filter(name="E-mail").update(approval_minutes=None)
    assert services.approval_due(ticket=mail, submitted_at=clock.now) is None


def test_hooks_stay_within_a_handful_of_queries(open_ticket, clock, django_assert_max_num_queries):
    ticket = open_ticket()
    with django_assert_max_num_queries(7):
        reply(ticket, at=clock.advance(minutes=5))
    with django_assert_max_num_queries(8):
        customer_writes(ticket, at=clock.advance(minutes=5))


def test_clocks_template_shows_each_group_apart(open_ticket, clock, world):
    ticket = open_ticket(is_formal_complaint=True, complaint_category="payment_services")
    transition(ticket, "triage", world.agent)
    transition(ticket, "escalate", world.agent, department=world.legal)
    reply(ticket, at=clock.advance(minutes=3))
    html = render_to_string("sla/_clocks.html", {"clocks": selectors.ticket_clocks(ticket)})
    assert html.count("<dl") == 3
    assert "Service level" in html and "Department" in html and "Regulator" in html
    assert 'data-clock="first_response" data-state="met"' in html
    assert 'data-due="' in html  # running clocks count down in the browser
    assert "Legal" in html and "Payment services (PSD2)" in html
    empty = render_to_string("sla/_clocks.html", {"clocks": []})
    assert "No service-level clock" in empty


def test_changing_a_policy_recomputes_open_tickets_from_their_events(open_ticket, clock, world):
    ticket = open_ticket()
    transition(ticket, "triage", world.agent)
    reply(ticket, at=clock.advance(minutes=10))
    paused_at = clock.set(rome(2025, 3, 3, 17, 0))
    transition(ticket, "wait_for_customer", world.agent)
    resumed_at = clock.set(rome(2025, 3, 5, 9, 30))
    customer_writes(ticket, at=resumed_at)
    ticket_services.ticket_reopen_for_customer(ticket=ticket, at=resumed_at)
    reply(ticket, at=clock.advance(minutes=10))
    # Nothing changed: recomputing rebuilds exactly what the hooks stored.
    assert services.sla_recompute() == 0

    SlaPolicy.objects.filter(name="Public social (X, Facebook, Instagram)").update(resolution_minutes=8 * 60)
    assert services.sla_recompute() == 1
    ticket.refresh_from_db()
    calendar = italy()
    used_before_pause = bt.business_time_between(ticket.created_at, paused_at, calendar)
    assert ticket.resolution_due == bt.add_business_time(resumed_at, timedelta(hours=8) - used_before_pause, calendar)
    assert SlaEvent.objects.filter(ticket=ticket, kind=SlaEvent.Kind.RECOMPUTE).count() == 1

    # The policy no longer times resolution: the clock stops instead of lingering.
    SlaPolicy.objects.filter(name="Public social (X, Facebook, Instagram)").update(resolution_minutes=None)
    call_command("sla_recompute", str(ticket.pk))
    ticket.refresh_from_db()
    assert ticket.resolution_due is None
    assert clocks_of(ticket, ClockKind.RESOLUTION)[-1].state == ClockState.STOPPED


def test_a_target_added_later_starts_retroactively_with_the_waits_replayed(open_ticket, clock, world):
    SlaPolicy.objects.filter(name="Public social (X, Facebook, Instagram)").update(first_response_minutes=None)
    ticket = open_ticket()
    transition(ticket, "triage", world.agent)
    assert not clocks_of(ticket, ClockKind.FIRST_RESPONSE)
    clock.advance(minutes=20)
    transition(ticket, "wait_for_customer", world.agent)
    clock.advance(hours=3)
    transition(ticket, "customer_replied", None)
    SlaPolicy.objects.filter(name="Public social (X, Facebook, Instagram)").update(first_response_minutes=60)
    services.sla_recompute(ticket_ids=[ticket.pk], now=clock.now)
    ticket.refresh_from_db()
    # 20 minutes used before the wait; 40 left after the customer replied.
    assert ticket.first_response_due == clock.now + timedelta(minutes=40)


def test_stricter_policy_turns_a_running_clock_into_a_breach_at_the_next_sweep(open_ticket, clock, world):
    ticket = open_ticket()
    clock.advance(minutes=40)
    SlaPolicy.objects.filter(name="Public social (X, Facebook, Instagram)").update(first_response_minutes=30)
    services.sla_recompute(now=clock.now)
    ticket.refresh_from_db()
    assert ticket.first_response_due == ticket.created_at + timedelta(minutes=30)
    assert ticket.sla_status == SlaStatus.BREACHED
    result = services.sla_sweep(now=clock.now)
    assert len(result.breaches) == 1
