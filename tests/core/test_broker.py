"""A real round trip through the configured broker: webhook → queue → worker → ticket.

Everywhere else tasks run eagerly (test settings). Here they are published for real, to the
filesystem transport by default or to Redis / RabbitMQ when CELERY_BROKER_URL names one (the
CI run), and an in-process worker consumes them. A queue of this test's own keeps it apart from
any other worker on the same broker, and is removed afterwards.
"""

import threading
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from celery.worker import state as worker_state
from django.conf import settings

from apps.social.models import InboundEvent
from apps.tickets.models import Channel
from caretickets.celery import app
from tests.factories import ChannelFactory, TeamFactory

# The worker thread has its own database connection: it must see committed rows, and so must we.
pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

TOKEN = "broker-round-trip-token"
MAIL = b"""From: Luca Verdi <luca.verdi@example.it>
To: Care <care@bank.example>
Subject: Broker round trip
Date: Mon, 02 Mar 2026 10:15:00 +0100
Message-ID: <broker-round-trip@mail.example.it>
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"

My card was charged twice for the same payment. Can you refund one of them?
"""


def _queue_remove(name: str) -> None:
    """Remove the queue, its messages left over, its exchange and bindings from the broker."""
    with app.connection_for_write() as conn:
        queue = app.amqp.queues[name](conn.default_channel)
        # Declared again on this connection, so that the virtual transports (Redis, filesystem)
        # know the binding and remove it with the queue.
        queue.declare()
        queue.purge()
        queue.delete()
        queue.exchange.delete()
    if app.conf.broker_url.startswith("filesystem"):
        # The filesystem transport keeps the exchange's bindings in a file of its own.
        control = Path(app.conf.broker_transport_options["control_folder"])
        (control / f"{name}.exchange").unlink(missing_ok=True)


@pytest.fixture
def queue(broker_url):
    """Publishing for real, every task (follow-ups too) routed to a queue of this test's own."""
    name = f"caretickets-test-{uuid.uuid4().hex[:12]}"
    changes = {
        "task_always_eager": False,
        "task_default_queue": name,
        "worker_hijack_root_logger": False,  # keep the test session's logging as it is
        "worker_enable_remote_control": False,  # no pidbox: `celery inspect` elsewhere never sees us
    }
    saved = {key: app.conf[key] for key in changes}
    app.conf.update(changes)
    try:
        yield name
    finally:
        app.conf.update(saved)
        _queue_remove(name)


@contextmanager
def worker_consuming(queue: str):
    """A worker in a thread of this process, consuming only `queue`."""
    with start_worker(app, pool="solo", perform_ping_check=False, queues=[queue]) as worker:
        try:
            yield worker
        finally:
            # Stop now, not when the event loop next wakes (up to 10 s on RabbitMQ): what
            # start_worker does on exit, plus a wake-up call. The filesystem transport has no
            # event loop; its worker polls, and stops within 4 s.
            worker_state.should_terminate = 0
            if worker.hub is not None:
                worker.hub.call_soon(lambda: None)


@pytest.fixture
def finished():
    """The states of the inbound-event tasks the worker ran, and an event set after each."""
    done = threading.Event()
    states: list[str] = []

    def record(sender=None, state=None, **kwargs):
        if sender is not None and sender.name == "social.inbound_events_process_pending":
            states.append(state)
            done.set()

    task_postrun.connect(record, weak=False)
    yield done, states
    task_postrun.disconnect(record)


def test_a_webhook_delivery_is_queued_and_a_worker_threads_it_into_a_ticket(queue, finished, client):
    done, states = finished
    team = TeamFactory()
    slug = f"broker-{uuid.uuid4().hex[:8]}"
    channel = ChannelFactory(
        kind=Channel.Kind.EMAIL, slug=slug, name=slug, team=team, account_id="care@bank.example",
        secrets={"token": TOKEN},
    )
    with worker_consuming(queue):
        response = client.post(
            f"/webhooks/email/{slug}/", data=MAIL, content_type="message/rfc822", HTTP_X_WEBHOOK_TOKEN=TOKEN
        )
        assert response.status_code == 200, response.content
        assert response.json() == {"accepted": 1, "duplicates": 0}
        assert done.wait(timeout=20), f"no worker ran the task published to {settings.CELERY_BROKER_URL}"

    assert states == ["SUCCESS"]
    event = InboundEvent.objects.select_related("ticket", "message").get(channel=channel)
    assert event.status == InboundEvent.Status.PROCESSED and event.attempts == 1
    assert event.ticket.team == team and event.ticket.channel == channel
    assert "charged twice" in event.message.body
