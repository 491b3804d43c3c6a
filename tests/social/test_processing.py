"""The event lifecycle: retries, failed events an admin can see and replay, stale sweeps."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.social import services, tasks
from apps.social.models import InboundEvent
from apps.tickets.models import Message, Ticket
from tests.social.conftest import fixture_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def broken_ingest(monkeypatch):
    """Processing fails, on the set-based path and on the one-at-a-time path alike."""

    def explode(**kwargs):
        raise RuntimeError("threading exploded")

    monkeypatch.setattr(services, "triage_classify", explode)
    return monkeypatch


def retry_until_parked(event: InboundEvent) -> list[int]:
    """Let each retry come due and run the batches again, as a worker would later; the waits."""
    waits = []
    for _ in range(services.max_retries() + 3):
        event.refresh_from_db()
        if event.status != "received":
            break
        waits.append(round((event.next_attempt_at - timezone.now()).total_seconds()))
        assert services.inbound_events_process_pending().processed == 0  # not due yet
        InboundEvent.objects.filter(pk=event.pk).update(next_attempt_at=timezone.now())
        services.inbound_events_process_pending()
    return waits


def test_failing_processing_is_retried_with_backoff_then_parked_as_failed(deliver, broken_ingest):
    response = deliver("x", "x_tweet.json")
    assert response.status_code == 200
    event = InboundEvent.objects.get()
    assert event.status == "received" and event.attempts == 1
    assert "threading exploded" in event.last_error
    assert retry_until_parked(event) == [5, 10, 20, 40, 80]  # five retries after the first attempt
    event.refresh_from_db()
    assert event.status == "failed" and event.next_attempt_at is None
    assert event.attempts == services.max_retries() + 1
    assert Message.objects.count() == 0 and Ticket.objects.count() == 0


def test_one_failing_event_does_not_hold_back_the_others(deliver, broken_ingest):
    deliver("x", "x_tweet.json")
    broken_ingest.undo()
    # Delivered while processing works again: it is processed; the first waits for its retry.
    deliver("x", fixture_bytes("x_tweet.json").replace(b"1790000000000000101", b"1790000000000000199"))
    statuses = dict(InboundEvent.objects.order_by("pk").values_list("event_key", "status"))
    assert list(statuses.values()) == ["received", "processed"]
    assert Message.objects.count() == 1


def test_admin_lists_failing_then_failed_events_and_replays_them(deliver, broken_ingest, client, world,
                                                                django_capture_on_commit_callbacks):
    deliver("x", "x_tweet.json")
    event = InboundEvent.objects.get()
    client.force_login(world.admin)
    retrying = client.get("/admin/social/inboundevent/", {"attention": "retrying"}).content.decode()
    assert event.event_key in retrying
    assert event.event_key not in client.get("/admin/social/inboundevent/", {"attention": "failed"}).content.decode()
    assert "threading exploded" in client.get(f"/admin/social/inboundevent/{event.pk}/change/").content.decode()
    retry_until_parked(event)
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
    tasks.inbound_events_process_pending.delay()
    services.inbound_events_process_pending()
    assert Message.objects.count() == 1
    assert not services.inbound_event_replay(event=event)  # processed events stay as they are


def test_broker_outage_still_answers_200_and_the_sweep_queues_again(deliver, monkeypatch):
    def no_broker(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.inbound_events_process_pending, "delay", no_broker)
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
    assert [services.retry_delay(n) for n in range(0, 9)] == [5, 10, 20, 40, 80, 160, 320, 600, 600]
