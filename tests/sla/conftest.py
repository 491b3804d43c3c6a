"""SLA test helpers: a controllable clock and tickets opened through the real services."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from apps.tickets import services as ticket_services
from apps.tickets.models import Channel, Message
from tests.factories import ChannelFactory, CustomerFactory

ROME = ZoneInfo("Europe/Rome")


class Clock:
    """What timezone.now() returns while a test runs; moved by hand."""

    def __init__(self, start: datetime):
        self.now = start.astimezone(UTC)

    def set(self, when: datetime) -> datetime:
        self.now = when.astimezone(UTC)
        return self.now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch):
    # Monday 3 March 2025, 10:00 in Rome: a plain business day.
    c = Clock(datetime(2025, 3, 3, 10, 0, tzinfo=ROME))
    monkeypatch.setattr(timezone, "now", lambda: c.now)
    return c


def rome(*args) -> datetime:
    return datetime(*args, tzinfo=ROME)


@pytest.fixture
def open_ticket(world, clock):
    """Open a ticket as ingest does (ticket_create + the customer's first message)."""

    def make(*, channel=None, at=None, **fields):
        at = at or clock.now
        channel = channel or world.channel
        ticket = ticket_services.ticket_create(
            channel=channel, customer=CustomerFactory(), subject="Card blocked", created_at=at,
            **fields,
        )
        ticket_services.message_record(
            ticket=ticket, channel=channel, direction=Message.Direction.IN, body="Help!", created_at=at,
        )
        return ticket

    return make


@pytest.fixture
def email_channel(world):
    return ChannelFactory(kind=Channel.Kind.EMAIL, name="Mailbox", slug="mailbox", team=world.care)


@pytest.fixture
def linkedin_channel(world):
    return ChannelFactory(kind=Channel.Kind.LINKEDIN, name="LinkedIn", slug="linkedin", team=world.care)


def reply(ticket, *, at, automatic=False, public=True, user=None):
    """A reply actually published to the customer (what the replies outbox records)."""
    return ticket_services.message_record(
        ticket=ticket, channel=ticket.channel, direction=Message.Direction.OUT, body="We are on it.",
        created_at=at, is_automatic=automatic, is_public=public, author_user=user,
    )


def customer_writes(ticket, *, at):
    return ticket_services.message_record(
        ticket=ticket, channel=ticket.channel, direction=Message.Direction.IN, body="Any news?",
        created_at=at,
    )
