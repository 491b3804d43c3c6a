"""The event lifecycle: retries, failed events an admin can see and replay, stale sweeps."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.social import services, tasks
from apps.social.models import InboundEvent
from apps.tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def broken_ingest(monkeypatch):
    """Processing fails; eager tasks run their retries in place, as a worker would run them later."""
    from caretickets.celery import app

    def explode(**kwargs):
        raise RuntimeError("threading exploded")

    monkeypatch.setattr(services, "item_ingest", explode)
    propagates = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    yield monkeypatch
    app.conf.task_eager_propagates = propagates


def test_failing_processing_is_retried_then_parked_as_failed(deliver, broken_ingest):
    response = deliver("x", "x_tweet.json")
    assert response.status_code == 200
    event = InboundEvent.objects.get()
    assert event.status == "failed"
    assert event.attempts == tasks.inbound_event_process.max_retries + 1
    assert "threading exploded" in event.last_error
    assert Message.objects.count() == 0


def test_admin_lists_failed_events_and_replays_them(deliver, broken_ingest, client, world,
                                                    django_capture_on_commit_callbacks):
    deliver("x", "x_tweet.json")
    event = InboundEvent.objects.get()
    broken_ingest.undo()
    client.force_login(world.admin)
    page = client.get("/admin/social/inboundevent/", {"attention": "failed"})
    assert page.status_code == 200 and event.event_key in page.content.decode()
    assert client.get(f"/admin/social/inboundevent/{event.pk}/change/").status_code == 200
    assert client.get(f"/admin/social/inbounddelivery/{event.delivery_id}/change/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/admin/social/inboundevent/", {
            "action": "replay", "_selected_action": [event.pk],
        }, follow=True)
    assert "1 event queued again" in response.content.decode()
    event.refresh_from_db()
    assert event.status == "processed" and event.attempts == 1 and event.last_error == ""
    assert Ticket.objects.get().messages.count() == 1


def test_processing_twice_makes_one_message(deliver):
    deliver("x", "x_tweet.json")
    event = InboundEvent.objects.get()
    services.inbound_event_process(event_id=event.pk)
    tasks.inbound_event_process.delay(event.pk)
    assert Message.objects.count() == 1
    assert not services.inbound_event_replay(event=event)  # processed events stay as they are


def test_broker_outage_still_answers_200_and_the_sweep_queues_again(deliver, monkeypatch):
    def no_broker(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.inbound_event_process, "delay", no_broker)
    assert deliver("x", "x_tweet.json").status_code == 200
    event = InboundEvent.objects.get()
    assert event.status == "received"
    monkeypatch.undo()
    assert services.inbound_events_requeue_stale() == 0  # too fresh to be called stale
    InboundEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(minutes=15))
    assert tasks.inbound_events_requeue_stale.delay().get() == 1
    event.refresh_from_db()
    assert event.status == "processed"


def test_retry_delay_backs_off():
    assert [tasks.retry_delay(n) for n in range(0, 9)] == [5, 10, 20, 40, 80, 160, 320, 600, 600]
