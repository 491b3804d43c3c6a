"""Merge and split services: the rules they enforce, and that both leave an audit trail."""

import pytest

from apps.core.exceptions import ApplicationError, PermissionRefused, StaleObject
from apps.tickets import hooks, services
from apps.tickets.models import Message, TicketEvent
from tests.factories import CustomerFactory, MessageFactory


@pytest.fixture
def customer():
    return CustomerFactory()


@pytest.mark.django_db
def test_merge_moves_messages_and_notes_and_closes_the_source_through_the_workflow(world, customer, monkeypatch):
    target = world.ticket(state="open", customer=customer, conversation_key="")
    source = world.ticket(state="pending_customer", customer=customer, conversation_key="post-1")
    MessageFactory(ticket=source, body="later message")
    seen = []
    monkeypatch.setitem(hooks._subscribers, "ticket_merged",
                        [lambda **kw: seen.append((kw["source"].pk, kw["target"].pk))])
    services.ticket_merge(source=source, target=target, actor=world.agent, reason="duplicate")
    source.refresh_from_db()
    target.refresh_from_db()
    assert source.state == "closed" and source.merged_into_id == target.pk
    assert Message.objects.filter(ticket=target, body="later message").exists()
    assert target.conversation_key == "post-1" and target.last_customer_message_at is not None
    assert seen == [(source.pk, target.pk)]
    closing = TicketEvent.objects.filter(ticket=source, kind="transition").values_list("transition", "reason")
    assert [name for name, _ in closing] == ["resolve", "close"]
    assert all(reason.startswith(f"Merged into {target.reference}.") for _, reason in closing)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("source_kw", "target_kw", "error"),
    [
        ({"state": "escalated"}, {}, "still with care"),
        ({}, {"state": "resolved"}, "still open"),
        ({"confidential": True}, {}, "confidential"),
        ({"customer": "other"}, {}, "same customer"),
    ],
)
def test_merge_refusals_change_nothing(world, customer, source_kw, target_kw, error):
    other = CustomerFactory()
    make = {**{"state": "open", "customer": customer}}
    source_kw = {**make, **source_kw}
    if source_kw.get("customer") == "other":
        source_kw["customer"] = other
    source = world.ticket(**source_kw, department=world.legal if source_kw["state"] == "escalated" else None)
    target = world.ticket(**{**make, **target_kw})
    MessageFactory(ticket=source)
    actor = world.hr_user if source_kw.get("confidential") else world.agent
    with pytest.raises((ApplicationError, PermissionRefused)) as excinfo:
        services.ticket_merge(source=source, target=target, actor=actor)
    assert error in excinfo.value.message or isinstance(excinfo.value, PermissionRefused)
    source.refresh_from_db()
    assert source.merged_into is None and source.messages.count() == 1
    assert not TicketEvent.objects.filter(kind="merge").exists()


@pytest.mark.django_db
def test_merge_refuses_itself_strangers_and_stale_versions(world, customer):
    ticket = world.ticket(customer=customer)
    with pytest.raises(ApplicationError, match="itself"):
        services.ticket_merge(source=ticket, target=ticket, actor=world.agent)
    other = world.ticket(customer=customer)
    with pytest.raises(PermissionRefused):
        services.ticket_merge(source=ticket, target=other, actor=world.outsider)
    with pytest.raises(StaleObject):
        services.ticket_merge(source=ticket, target=other, actor=world.agent, source_version=ticket.version + 1)


@pytest.mark.django_db
def test_split_keeps_the_old_ticket_consistent(world, customer):
    ticket = world.ticket(customer=customer)
    keep = MessageFactory(ticket=ticket, body="keep")
    move = MessageFactory(ticket=ticket, body="move me")
    ticket.last_customer_message_at = move.created_at
    new = services.message_split(message=move, actor=world.agent)
    ticket.refresh_from_db()
    assert new.subject == "move me" and new.customer == customer and new.linked_from == ticket
    assert ticket.last_customer_message_at == keep.created_at
    assert TicketEvent.objects.filter(ticket=new, kind="created", actor=world.agent).exists()


@pytest.mark.django_db
def test_split_refused_on_closed_tickets_and_for_people_who_cannot_work_it(world, customer):
    closed = world.ticket(state="closed", customer=customer)
    MessageFactory(ticket=closed)
    message = MessageFactory(ticket=closed)
    with pytest.raises(ApplicationError, match="closed"):
        services.message_split(message=message, actor=world.agent)
    escalated = world.ticket(state="escalated", department=world.legal, customer=customer)
    MessageFactory(ticket=escalated)
    message = MessageFactory(ticket=escalated)
    with pytest.raises(PermissionRefused):
        services.message_split(message=message, actor=world.legal_user)
