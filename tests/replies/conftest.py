import pytest

from . import fakeplatform


@pytest.fixture
def fake_platform():
    """A fake network API on 127.0.0.1 (free port), stopped after the test."""
    platform = fakeplatform.FakePlatform()
    server = fakeplatform.start(platform)
    yield platform
    platform.stop.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def fast_publishing(settings):
    """Short network timeout and lease so hang and worker-death tests stay fast."""
    settings.REPLIES_PUBLISH_TIMEOUT = 0.4
    settings.REPLIES_PUBLISH_LEASE_SECONDS = 5
    settings.REPLIES_PUBLISH_MAX_ATTEMPTS = 4
    return settings


@pytest.fixture
def live_x(world, fake_platform):
    """The demo X channel pointed at the fake platform, out of sandbox."""
    channel = world.channel
    channel.sandbox = False
    channel.api_base_url = fake_platform.url
    channel.account_id = fake_platform.account_id
    channel.secrets = {"access_token": "s3cret-token"}
    channel.save()
    return channel
