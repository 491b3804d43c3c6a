"""PostgreSQL: the same delivery posted by several threads at once yields one message."""

import threading

import pytest
from django.db import connection
from django.test import Client

from apps.social import services
from apps.social.adapters import x
from apps.social.models import InboundDelivery, InboundEvent
from apps.tickets.models import Channel, Message, Ticket
from tests.social.conftest import fixture_bytes, x_signature

THREADS = 8


def run_together(target, count=THREADS):
    """Start `count` threads at the same instant; each uses (and closes) its own connection."""
    barrier = threading.Barrier(count)
    results, errors = [], []

    def worker():
        try:
            barrier.wait(timeout=10)
            results.append(target())
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_same_delivery_posted_concurrently_yields_one_message(channels):
    body = fixture_bytes("x_multi.json")
    signature = x_signature(body)

    def post():
        response = Client().post("/webhooks/x/demo-x/", data=body, content_type="application/json",
                                 HTTP_X_TWITTER_WEBHOOKS_SIGNATURE=signature)
        return response.status_code, response.json()

    results = run_together(post)
    assert {status for status, _ in results} == {200}
    assert sum(body["accepted"] for _, body in results) == 2
    assert InboundEvent.objects.count() == 2
    assert InboundDelivery.objects.count() == 1  # the losers' deliveries were not kept
    assert Message.objects.count() == 2 and Ticket.objects.count() == 2
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"processed"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_same_item_ingested_concurrently_yields_one_message(channels):
    [item] = x.parse(fixture_bytes("x_tweet.json"), account_id=channels.x.account_id)
    channel = Channel.objects.get(pk=channels.x.pk)

    outcomes = run_together(lambda: services.item_ingest(channel=channel, item=item).status)
    assert sorted(outcomes) == ["ignored"] * (THREADS - 1) + ["processed"]
    assert Message.objects.count() == 1 and Ticket.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_first_posts_of_one_author_in_parallel_share_a_ticket(channels):
    template = fixture_bytes("x_tweet.json").decode()
    items = [
        x.parse(template.replace("1790000000000000101", f"17900000000000009{n:02d}").encode())[0]
        for n in range(THREADS)
    ]
    channel = Channel.objects.get(pk=channels.x.pk)
    pending = list(items)
    lock = threading.Lock()

    def ingest_one():
        with lock:
            item = pending.pop()
        return services.item_ingest(channel=channel, item=item).status

    assert run_together(ingest_one) == ["processed"] * THREADS
    assert Ticket.objects.count() == 1 and Message.objects.count() == THREADS
