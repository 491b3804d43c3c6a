"""Presence in the cache: who has a ticket open, who is writing, and that it fades by itself."""

import pytest

from apps.workspace import presence


class Clock:
    def __init__(self, start: float = 1_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(presence.time, "time", fake)
    return fake


@pytest.mark.django_db
def test_viewing_and_writing_are_reported_to_others_only(world, clock):
    presence.presence_mark(ticket_id=7, user=world.agent)
    presence.presence_mark(ticket_id=7, user=world.agent2, writing=True)
    seen_by_agent = presence.presence_for_ticket(7, exclude_user_id=world.agent.pk)
    assert [(p.user_id, p.writing) for p in seen_by_agent] == [(world.agent2.pk, True)]
    everyone = presence.presence_for_ticket(7)
    assert [p.user_id for p in everyone] == [world.agent2.pk, world.agent.pk]  # writers first


@pytest.mark.django_db
def test_writing_fades_before_viewing_and_viewing_fades_after_the_ttl(world, clock):
    presence.presence_mark(ticket_id=7, user=world.agent, writing=True)
    clock.now += presence.WRITING_SECONDS + 1
    presence.presence_mark(ticket_id=7, user=world.agent)  # a plain poll keeps "viewing" only
    assert [p.writing for p in presence.presence_for_ticket(7)] == [False]
    clock.now += presence.TTL_SECONDS + 1
    assert presence.presence_for_ticket(7) == []


@pytest.mark.django_db
def test_a_poll_while_still_writing_keeps_the_writing_flag(world, clock):
    presence.presence_mark(ticket_id=7, user=world.agent, writing=True)
    clock.now += 5
    presence.presence_mark(ticket_id=7, user=world.agent)
    assert presence.presence_for_ticket(7)[0].writing


@pytest.mark.django_db
def test_one_lookup_for_a_whole_page_of_tickets(world, clock, django_assert_num_queries):
    presence.presence_mark(ticket_id=1, user=world.agent2)
    presence.presence_mark(ticket_id=3, user=world.agent, writing=True)
    with django_assert_num_queries(0):
        found = presence.presence_for_tickets([1, 2, 3], exclude_user_id=world.agent.pk)
    assert set(found) == {1}
    assert presence.presence_for_tickets([]) == {}


@pytest.mark.django_db
def test_leave_forgets_only_that_user(world, clock):
    presence.presence_mark(ticket_id=7, user=world.agent)
    presence.presence_mark(ticket_id=7, user=world.agent2)
    presence.presence_leave(ticket_id=7, user=world.agent)
    assert [p.user_id for p in presence.presence_for_ticket(7)] == [world.agent2.pk]
