"""Shared fixtures. Service-dependent tests: skipped on the embedded default, failures under CI."""

import os

import pytest
from django.conf import settings

from tests import factories

IN_CI = os.environ.get("CI", "").lower() == "true"


def _real_broker_url() -> str | None:
    url = settings.CELERY_BROKER_URL
    return url if url.split(":", 1)[0] in ("redis", "rediss", "amqp", "amqps", "pyamqp") else None


def pytest_collection_modifyitems(config, items):
    on_postgres = settings.IS_POSTGRES
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker and marker.kwargs.get("transaction") and not marker.kwargs.get("serialized_rollback"):
            # A transactional test's flush empties the migration data (SLA defaults, triage rules,
            # role groups) for the tests after it, and mixing the two kinds makes the serialized
            # restore collide with what post_migrate recreated. Every one restores the data.
            raise pytest.UsageError(f"{item.nodeid}: use django_db(transaction=True, serialized_rollback=True)")
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(pytest.mark.skip(reason="needs DATABASE_URL=postgres://… (runs in CI)"))


@pytest.fixture
def broker_url():
    """The configured broker, reachable. The filesystem default needs no server; a Redis or
    RabbitMQ one that does not answer is a skip locally, a failure under CI=true."""
    import kombu

    url = _real_broker_url()
    if url is None:
        return settings.CELERY_BROKER_URL
    try:
        with kombu.Connection(url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:
        if IN_CI:
            pytest.fail(f"CI=true and the broker at {url} is unreachable: {exc}")
        pytest.skip(f"broker unreachable: {exc}")
    return url


@pytest.fixture(autouse=True)
def _broker_marker(request):
    """A test marked `broker` gets the reachability check of `broker_url`."""
    if request.node.get_closest_marker("broker"):
        request.getfixturevalue("broker_url")


@pytest.fixture
def world(db):
    """The demo organisation in miniature: teams, departments, one user per role."""
    return factories.build_world()


@pytest.fixture(autouse=True)
def _clean_thread_state():
    """Each test starts in English with an empty cache, whatever the previous test activated."""
    from django.core.cache import cache
    from django.utils import timezone, translation

    cache.clear()
    translation.activate("en")
    yield
    translation.activate("en")
    timezone.deactivate()
