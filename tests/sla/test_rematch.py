"""Deadlines follow the facts policies match on: priority, the formal-complaint flag, a merge."""

from datetime import timedelta

import pytest

from apps.sla import engine, services
from apps.sla.models import Calendar, ClockKind, ClockState, RegulatoryRule, SlaClock, SlaEvent, SlaPolicy
from apps.tickets import services as ticket_services
from apps.tickets.models import Message, SlaStatus, TicketEvent
from apps.triage.services import TriageResult, ticket_priority_raise
from tests.factories import CustomerFactory

from .conftest import customer_writes, reply, rome

pytestmark = pytest.mark.django_db

PUBLIC_SOCIAL = "Public social (X, Facebook, Instagram)"


def clocks_of(ticket, kind=None):
    qs = SlaClock.objects.filter(ticket=ticket).order_by("pk")
    return list(qs.filter(kind=kind) if kind else qs)


def recomputes(ticket):
    return list(SlaEvent.objects.filter(ticket=ticket, kind=SlaEvent.Kind.RECOMPUTE).order_by("pk"))


def urgent(world) -> TriageResult:
    return TriageResult(
        language="en", intent="other", sentiment="negative", priority="urgent", team=world.care,
        department=None, confidential=False, explanation={"priority": ["The card was used abroad."]},
    )


def transition(ticket, name, actor, **params):
    params.setdefault("reason", "because")
    ticket.refresh_from_db()
    ticket_services.ticket_transition(ticket=ticket, transition=name, actor=actor, **params)
    ticket.refresh_from_db()


# --- priority ------------------------------------------------------------------------------------


def test_a_priority_raised_by_triage_tightens_the_running_deadlines_and_is_audited(open_ticket, clock, world):
    ticket = open_ticket()
    assert ticket.first_response_due == rome(2025, 3, 3, 11, 0)
    clock.advance(minutes=5)
    assert ticket_priority_raise(ticket=ticket, result=urgent(world))
    # The caller's instance is current without a reload: "Urgent — social networks" applies.
    assert ticket.first_response_due == rome(2025, 3, 3, 10, 15)
    assert ticket.resolution_due == rome(2025, 3, 3, 15, 0)  # 4 business hours, lunch skipped
    assert ticket.sla_due == rome(2025, 3, 3, 10, 15)
    ticket.refresh_from_db()
    assert ticket.first_response_due == rome(2025, 3, 3, 10, 15)
    policy = SlaPolicy.objects.get(name="Urgent — social networks")
    assert {c.policy_id for c in clocks_of(ticket)} == {policy.pk}
    (audit,) = recomputes(ticket)
    assert audit.data["cause"] == "priority" and audit.data["policy"] == policy.pk
    # A later customer message is timed by the urgent policy too.
    reply(ticket, at=clock.advance(minutes=1))
    asked = clock.advance(minutes=1)
    customer_writes(ticket, at=asked)
    ticket.refresh_from_db()
    assert ticket.next_response_due == asked + timedelta(minutes=15)


def test_a_priority_raised_on_breach_tightens_the_running_clocks_and_each_clock_breaches_once(
    open_ticket, clock, world, email_channel, django_capture_on_commit_callbacks
):
    ticket = open_ticket(channel=email_channel, priority="high")
    transition(ticket, "triage", world.agent)
    transition(ticket, "claim", world.agent)
    # E-mail: first response in 8 business hours (Tuesday 10:00), resolution in 2 business days.
    assert (ticket.first_response_due, ticket.resolution_due) == (rome(2025, 3, 4, 10, 0), rome(2025, 3, 5, 10, 0))
    first = clocks_of(ticket, ClockKind.FIRST_RESPONSE)[0]

    with django_capture_on_commit_callbacks(execute=True):
        result = services.sla_sweep(now=clock.set(rome(2025, 3, 4, 10, 1)))
    assert len(result.breaches) == 1
    ticket.refresh_from_db()
    assert ticket.priority == "urgent"
    # "Urgent — other channels": resolution within 4 business hours of the opening, i.e. Monday
    # 15:00, already past. The first-response clock that breached stays as it was.
    assert ticket.resolution_due == rome(2025, 3, 3, 15, 0)
    assert ticket.sla_status == SlaStatus.BREACHED
    first_after = SlaClock.objects.get(pk=first.pk)
    assert (first_after.due_at, first_after.breached_at, first_after.generation) == (
        rome(2025, 3, 4, 10, 0), clock.now, 0,
    )
    assert recomputes(ticket)[-1].data["cause"] == "priority"

    # The tightened deadline is breached once by the next sweep; the priority cannot go higher,
    # and the urgent policy hands the ticket to the lead.
    with django_capture_on_commit_callbacks(execute=True):
        result = services.sla_sweep(now=clock.advance(minutes=1))
    assert len(result.breaches) == 1 and result.warnings == []
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.assignee) == ("urgent", world.lead)
    for _round in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            assert services.sla_sweep(now=clock.advance(minutes=5)).event_ids == []
    breaches = SlaEvent.objects.filter(ticket=ticket, kind=SlaEvent.Kind.BREACH)
    assert sorted(breaches.values_list("clock__kind", flat=True)) == ["first_response", "resolution"]
    assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.SLA).count() == 1  # one raise


def test_a_priority_raise_that_matches_the_same_policy_changes_nothing(open_ticket, clock, world):
    ticket = open_ticket()
    result = urgent(world)
    result = TriageResult(**{**result.__dict__, "priority": "high"})
    assert ticket_priority_raise(ticket=ticket, result=result)
    ticket.refresh_from_db()
    assert ticket.first_response_due == rome(2025, 3, 3, 11, 0)
    assert recomputes(ticket) == []


# --- formal complaints ---------------------------------------------------------------------------


@pytest.fixture
def complaints_policy():
    always, italy = Calendar.objects.get(name="24/7"), Calendar.objects.get(name="Italy")
    return SlaPolicy.objects.create(
        name="Formal complaints", order=5, formal_complaint="yes",
        first_response_minutes=30, first_response_calendar=always,
        next_response_minutes=30, next_response_calendar=always,
        resolution_minutes=8 * 60, resolution_calendar=italy,
    )


def test_flagging_a_formal_complaint_rematches_the_operational_policy(open_ticket, clock, world, complaints_policy):
    ticket = open_ticket()
    assert ticket.first_response_due == rome(2025, 3, 3, 11, 0)
    clock.advance(minutes=10)
    services.ticket_formal_complaint_set(ticket=ticket, category="banking", actor=world.agent)
    assert ticket.first_response_due == rome(2025, 3, 3, 10, 30)
    ticket.refresh_from_db()
    assert ticket.first_response_due == rome(2025, 3, 3, 10, 30)
    assert ticket.resolution_due == rome(2025, 3, 4, 10, 0)  # 8 business hours
    assert ticket.regulatory_due == rome(2025, 5, 2, 23, 59, 59)
    assert {c.policy_id for c in clocks_of(ticket) if c.kind != ClockKind.REGULATORY} == {complaints_policy.pk}
    assert recomputes(ticket)[-1].data["cause"] == "formal_complaint"

    services.ticket_formal_complaint_set(ticket=ticket, category="", actor=world.agent)
    ticket.refresh_from_db()
    assert (ticket.first_response_due, ticket.regulatory_due) == (rome(2025, 3, 3, 11, 0), None)


# --- clocks a recompute adds ---------------------------------------------------------------------


def test_a_recompute_times_a_customer_owed_an_answer_once_a_next_response_target_exists(open_ticket, clock):
    SlaPolicy.objects.filter(name=PUBLIC_SOCIAL).update(next_response_minutes=None)
    ticket = open_ticket()
    reply(ticket, at=clock.advance(minutes=10))
    asked = clock.advance(minutes=20)
    customer_writes(ticket, at=asked)
    customer_writes(ticket, at=clock.advance(minutes=5))
    ticket.refresh_from_db()
    assert ticket.next_response_due is None and not clocks_of(ticket, ClockKind.NEXT_RESPONSE)

    SlaPolicy.objects.filter(name=PUBLIC_SOCIAL).update(next_response_minutes=60)
    assert services.sla_recompute(now=clock.advance(minutes=5)) == 1
    ticket.refresh_from_db()
    # Timed from the first message nobody answered, not from the recompute.
    assert ticket.next_response_due == asked + timedelta(hours=1)
    (running,) = clocks_of(ticket, ClockKind.NEXT_RESPONSE)
    assert (running.state, running.started_at) == (ClockState.RUNNING, asked)
    assert services.sla_recompute(now=clock.now) == 0
    reply(ticket, at=clock.advance(minutes=1))
    running.refresh_from_db()
    assert running.state == ClockState.MET


def test_a_recompute_does_not_time_a_customer_who_was_answered(open_ticket, clock):
    SlaPolicy.objects.filter(name=PUBLIC_SOCIAL).update(next_response_minutes=None)
    ticket = open_ticket()
    customer_writes(ticket, at=clock.advance(minutes=5))
    reply(ticket, at=clock.advance(minutes=10))
    SlaPolicy.objects.filter(name=PUBLIC_SOCIAL).update(next_response_minutes=60)
    assert services.sla_recompute(now=clock.advance(minutes=5)) == 0
    assert not clocks_of(ticket, ClockKind.NEXT_RESPONSE)


def test_a_recompute_chooses_the_strictest_rule_again_for_an_unclassified_complaint(open_ticket, clock):
    ticket = open_ticket(is_formal_complaint=True)
    ticket.refresh_from_db()
    payment = RegulatoryRule.objects.get(category="payment_services")
    assert ticket.regulatory_due == rome(2025, 3, 24, 23, 59, 59)  # the strictest: 15 business days
    italy = Calendar.objects.get(name="Italy")
    fast = RegulatoryRule.objects.create(category="instant", name="Instant payments", days=5, calendar=italy)
    assert services.sla_recompute(now=clock.advance(days=1)) == 1
    ticket.refresh_from_db()
    assert ticket.regulatory_due == engine.regulatory_due(fast, ticket.created_at) == rome(2025, 3, 10, 23, 59, 59)
    assert clocks_of(ticket, ClockKind.REGULATORY)[-1].rule == fast

    # No rule of its own to fall back on: the strictest of those left, never no clock at all.
    RegulatoryRule.objects.filter(pk__in=[fast.pk, payment.pk]).update(is_active=False)
    services.sla_recompute(now=clock.now)
    ticket.refresh_from_db()
    assert ticket.regulatory_due == rome(2025, 5, 2, 23, 59, 59)  # banking: 60 calendar days
    assert [c.state for c in clocks_of(ticket, ClockKind.REGULATORY)] == [ClockState.RUNNING]


def test_a_recompute_keeps_the_rule_of_a_classified_complaint(open_ticket, clock):
    ticket = open_ticket(is_formal_complaint=True, complaint_category="banking")
    RegulatoryRule.objects.create(
        category="instant", name="Instant payments", days=5, calendar=Calendar.objects.get(name="Italy")
    )
    assert services.sla_recompute(now=clock.advance(hours=1)) == 0
    ticket.refresh_from_db()
    assert ticket.regulatory_due == rome(2025, 5, 2, 23, 59, 59)


def test_admin_adding_a_regulatory_rule_recomputes_unclassified_complaints(
    client, open_ticket, clock, world, django_capture_on_commit_callbacks
):
    ticket = open_ticket(is_formal_complaint=True)
    client.force_login(world.admin)
    italy = Calendar.objects.get(name="Italy")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/admin/sla/regulatoryrule/add/", {
            "category": "instant", "name": "Instant payments", "days": 5, "day_kind": "business",
            "calendar": italy.pk, "warning_percent": 75, "is_active": "on",
        })
    assert response.status_code == 302, response.content.decode()[:2000]
    ticket.refresh_from_db()
    assert ticket.regulatory_due == rome(2025, 3, 10, 23, 59, 59)


# --- merge ---------------------------------------------------------------------------------------


def open_for(customer, channel, *, at):
    ticket = ticket_services.ticket_create(
        channel=channel, customer=customer, subject="Card blocked", created_at=at
    )
    ticket_services.message_record(
        ticket=ticket, channel=channel, direction=Message.Direction.IN, body="Help!", created_at=at,
    )
    return ticket


def test_merging_an_unanswered_message_times_the_wait_in_the_target_and_stops_the_source(clock, world):
    customer = CustomerFactory()
    target = open_for(customer, world.channel, at=clock.now)
    reply(target, at=clock.advance(minutes=5))
    source = open_for(customer, world.channel, at=clock.advance(minutes=15))
    transition(source, "triage", world.agent)
    clock.advance(minutes=20)
    merged = ticket_services.ticket_merge(source=source, target=target, actor=world.agent)

    # The customer has waited since 10:20: the target owes the answer by 11:20, not 11:40.
    assert merged.next_response_due == rome(2025, 3, 3, 11, 20)
    target.refresh_from_db()
    assert (target.next_response_due, target.sla_due) == (rome(2025, 3, 3, 11, 20), rome(2025, 3, 3, 11, 20))
    (waiting,) = clocks_of(target, ClockKind.NEXT_RESPONSE)
    assert (waiting.state, waiting.started_at) == (ClockState.RUNNING, rome(2025, 3, 3, 10, 20))

    source.refresh_from_db()
    assert source.state == "closed" and (source.sla_due, source.sla_status) == (None, SlaStatus.NONE)
    # Nothing was resolved for the customer: the source's clocks stopped, none was met.
    assert {c.kind: c.state for c in clocks_of(source)} == {
        "first_response": "stopped", "resolution": "stopped",
    }
    stops = SlaEvent.objects.filter(ticket=source, kind=SlaEvent.Kind.STOP)
    assert {e.data["reason"] for e in stops} == {"merged"}

    reply(target, at=clock.advance(minutes=5))
    waiting.refresh_from_db()
    assert waiting.state == ClockState.MET


def test_a_merge_keeps_the_target_running_response_clock(clock, world):
    customer = CustomerFactory()
    target = open_for(customer, world.channel, at=clock.now)
    first = clocks_of(target, ClockKind.FIRST_RESPONSE)[0]
    source = open_for(customer, world.channel, at=clock.advance(minutes=10))
    ticket_services.ticket_merge(source=source, target=target, actor=world.agent)
    target.refresh_from_db()
    assert target.first_response_due == first.due_at == rome(2025, 3, 3, 11, 0)
    assert not clocks_of(target, ClockKind.NEXT_RESPONSE)


def test_a_merge_does_not_send_again_a_breach_the_source_already_sent(clock, world):
    customer = CustomerFactory()
    target = open_for(customer, world.channel, at=clock.now)
    reply(target, at=clock.advance(minutes=5))
    source = open_for(customer, world.channel, at=clock.advance(minutes=5))  # due 11:10
    assert len(services.sla_sweep(now=clock.set(rome(2025, 3, 3, 11, 11))).breaches) == 1
    ticket_services.ticket_merge(source=source, target=target, actor=world.agent)

    (waiting,) = clocks_of(target, ClockKind.NEXT_RESPONSE)
    assert waiting.due_at == rome(2025, 3, 3, 11, 10) and waiting.breached_at == rome(2025, 3, 3, 11, 11)
    carried = SlaEvent.objects.get(clock=waiting, kind=SlaEvent.Kind.BREACH)
    assert carried.data["merged_from"] == source.reference and carried.handled_at is not None
    target.refresh_from_db()
    assert target.sla_status == SlaStatus.BREACHED
    assert services.sla_sweep(now=clock.advance(minutes=1)).event_ids == []


def test_a_breach_the_source_never_sent_is_sent_for_the_target(clock, world):
    customer = CustomerFactory()
    target = open_for(customer, world.channel, at=clock.now)
    reply(target, at=clock.advance(minutes=5))
    source = open_for(customer, world.channel, at=clock.advance(minutes=5))  # due 11:10
    clock.set(rome(2025, 3, 3, 11, 11))  # no sweep ran since the deadline passed
    ticket_services.ticket_merge(source=source, target=target, actor=world.agent)
    result = services.sla_sweep(now=clock.now)
    (breach,) = SlaEvent.objects.filter(pk__in=result.breaches)
    assert (breach.ticket_id, breach.clock.kind) == (target.pk, ClockKind.NEXT_RESPONSE)
