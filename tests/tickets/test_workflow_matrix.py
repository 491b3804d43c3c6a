"""Every (state, transition, role): allowed ones succeed with one audit row, refused ones change nothing.

The expectation table below is written out by hand from the product rules, not derived from
the code under test.
"""

import pytest

from apps.core.exceptions import ApplicationError
from apps.tickets import services
from apps.tickets.models import TicketEvent, TicketState

STATES = [s.value for s in TicketState]
ROLES = ["agent", "lead", "outsider", "other_lead", "compliance_user", "legal_user", "hr_user", "admin"]
CARE = {"agent", "lead", "admin"}
LEAD = {"lead", "admin"}
HOLDING_DEPT = {"legal_user", "admin"}  # escalated tickets in this table are held by Legal

# transition -> (source states, target state or None for "unchanged", roles allowed)
EXPECTED = {
    "triage": ({"new"}, "open", CARE),
    "claim": ({"new", "open", "pending_customer"}, None, CARE),
    "take_over": ({"new", "open", "pending_customer"}, None, CARE),
    "assign": ({"new", "open", "pending_customer"}, None, LEAD),
    "wait_for_customer": ({"open"}, "pending_customer", CARE),
    "customer_replied": ({"pending_customer", "resolved"}, "open", set()),
    "escalate": ({"open"}, "escalated", CARE),
    "transfer": ({"escalated"}, "escalated", HOLDING_DEPT),
    "return_to_care": ({"escalated"}, "open", HOLDING_DEPT),
    "resolve": ({"open", "pending_customer"}, "resolved", CARE),
    "reopen": ({"resolved"}, "open", CARE),
    "close": ({"resolved"}, "closed", CARE),
}


def _ticket_for(world, state, transition):
    kwargs = {}
    if state == "escalated":
        kwargs["department"] = world.legal
    if transition == "take_over":
        kwargs["assignee"] = world.agent2
    return world.ticket(state=state, **kwargs)


def _params(world, transition):
    return {
        "assign": {"assignee": world.agent},
        "escalate": {"department": world.compliance},
        "transfer": {"department": world.compliance},
    }.get(transition, {})


def _snapshot(ticket):
    ticket.refresh_from_db()
    return (ticket.state, ticket.version, ticket.assignee_id, ticket.department_id, ticket.confidential)


@pytest.mark.django_db
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("transition", sorted(EXPECTED))
def test_every_role_in_every_state(world, state, transition):
    sources, target, allowed_roles = EXPECTED[transition]
    mismatches = []
    for role in ROLES:
        user = getattr(world, role)
        ticket = _ticket_for(world, state, transition)
        before = _snapshot(ticket)
        events_before = TicketEvent.objects.filter(ticket=ticket).count()
        should_pass = state in sources and role in allowed_roles
        try:
            services.ticket_transition(
                ticket=ticket, transition=transition, actor=user, reason="because", **_params(world, transition)
            )
            passed = True
        except ApplicationError:
            passed = False
        after = _snapshot(ticket)
        events = TicketEvent.objects.filter(ticket=ticket).order_by("pk")
        if passed != should_pass:
            mismatches.append(f"{role}: expected {'allowed' if should_pass else 'refused'}")
            continue
        if passed:
            expected_state = target or state
            new_events = list(events)[events_before:]
            if after[0] != expected_state:
                mismatches.append(f"{role}: state {after[0]} != {expected_state}")
            if len(new_events) != 1 or new_events[0].transition != transition:
                mismatches.append(f"{role}: audit rows {[e.transition for e in new_events]}")
            elif (new_events[0].actor_id, new_events[0].from_state, new_events[0].to_state) != (
                user.pk, state, expected_state
            ):
                mismatches.append(f"{role}: audit row content wrong")
            if after[1] != before[1] + 1:
                mismatches.append(f"{role}: version not raised")
        else:
            if after != before or events.count() != events_before:
                mismatches.append(f"{role}: refused but something changed")
    assert not mismatches, f"{transition} from {state}: " + "; ".join(mismatches)


@pytest.mark.django_db
@pytest.mark.parametrize("state", STATES)
def test_customer_replied_is_the_systems_move(world, state):
    ticket = world.ticket(state=state)
    if state in ("pending_customer", "resolved"):
        services.ticket_transition(ticket=ticket, transition="customer_replied", actor=None)
        ticket.refresh_from_db()
        assert ticket.state == "open"
        event = TicketEvent.objects.get(ticket=ticket, transition="customer_replied")
        assert event.actor is None
    else:
        with pytest.raises(ApplicationError):
            services.ticket_transition(ticket=ticket, transition="customer_replied", actor=None)


@pytest.mark.django_db
def test_transfer_only_along_allowed_routes(world):
    ticket = world.ticket(state="escalated", department=world.legal)
    with pytest.raises(ApplicationError, match="routing policy"):
        services.ticket_transition(
            ticket=ticket, transition="transfer", actor=world.legal_user, reason="x", department=world.hr
        )
    ticket = services.ticket_transition(
        ticket=ticket, transition="transfer", actor=world.legal_user, reason="rates", department=world.risk
    )
    assert ticket.department == world.risk
    assert TicketEvent.objects.get(ticket=ticket, transition="transfer").data["from_department"] == "Legal"


@pytest.mark.django_db
def test_transfer_is_not_offered_where_no_route_leads(world):
    ticket = world.ticket(state="escalated", department=world.risk)  # Risk has no routes
    from apps.tickets.selectors import ticket_transitions_for_user

    names = [t.name for t in ticket_transitions_for_user(ticket, world.admin)]
    assert "transfer" not in names and "return_to_care" in names


@pytest.mark.django_db
def test_escalate_records_department_and_reason_and_return_leaves_guidance(world):
    ticket = world.ticket(state="open")
    ticket = services.ticket_transition(
        ticket=ticket, transition="escalate", actor=world.agent, reason="Customer threatens a lawyer",
        department=world.legal,
    )
    assert (ticket.state, ticket.department, ticket.escalation_reason) == (
        "escalated", world.legal, "Customer threatens a lawyer",
    )
    ticket = services.ticket_transition(
        ticket=ticket, transition="return_to_care", actor=world.legal_user,
        reason="Apologise, do not admit liability.",
    )
    assert ticket.state == "open" and ticket.department is None
    note = ticket.notes.get()
    assert note.is_guidance and note.department == world.legal
    assert note.body == "Apologise, do not admit liability."


@pytest.mark.django_db
def test_escalating_to_hr_makes_the_ticket_confidential(world):
    ticket = world.ticket(state="open")
    ticket = services.ticket_transition(
        ticket=ticket, transition="escalate", actor=world.agent, reason="Employee conduct",
        department=world.hr,
    )
    assert ticket.confidential
    # The agent who escalated can no longer act on (or see) it; HR can.
    from apps.tickets import policies

    assert not policies.can_view(ticket, world.agent)
    assert policies.can_work_department(ticket, world.hr_user)


@pytest.mark.django_db
def test_reason_is_required_where_the_workflow_asks_for_one(world):
    ticket = world.ticket(state="open")
    with pytest.raises(ApplicationError, match="reason"):
        services.ticket_transition(ticket=ticket, transition="escalate", actor=world.agent, department=world.legal)
    ticket.refresh_from_db()
    assert ticket.state == "open"


@pytest.mark.django_db
def test_state_field_cannot_be_assigned(world):
    ticket = world.ticket(state="open")
    with pytest.raises(AttributeError):
        ticket.state = "closed"


@pytest.mark.django_db
def test_assign_refuses_someone_outside_the_team(world):
    ticket = world.ticket(state="open")
    with pytest.raises(ApplicationError, match="not in this ticket's team"):
        services.ticket_transition(ticket=ticket, transition="assign", actor=world.lead, assignee=world.outsider)
