"""Demo channels with the demo secrets, signing helpers and a delivery helper for webhook tests."""

import base64
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

import pytest

from apps.tickets.models import Channel
from tests.factories import ChannelFactory
from tests.triage.rules import ensure_default_rules

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "social"

X_SECRET = "demo-x-secret"
META_SECRET = "demo-meta-secret"
VERIFY_TOKEN = "demo-verify-token"
LINKEDIN_SECRET = "demo-linkedin-secret"
EMAIL_TOKEN = "demo-email-token"

BRAND_X_ID = "1100000000000000001"
PAGE_ID = "104500000000001"
IG_ACCOUNT = "17841400000000001"
ORG_URN = "urn:li:organization:2414183"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def x_signature(body: bytes, secret: str = X_SECRET) -> str:
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def meta_signature(body: bytes, secret: str = META_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def linkedin_signature(body: bytes, secret: str = LINKEDIN_SECRET, *, prefixed_body=False, prefixed_header=False):
    signed = (b"hmacsha256=" + body) if prefixed_body else body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return ("hmacsha256=" + digest) if prefixed_header else digest


SIGNERS = {
    "x": ("HTTP_X_TWITTER_WEBHOOKS_SIGNATURE", x_signature),
    "meta": ("HTTP_X_HUB_SIGNATURE_256", meta_signature),
    "linkedin": ("HTTP_X_LI_SIGNATURE", linkedin_signature),
    "email": ("HTTP_X_WEBHOOK_TOKEN", lambda body: EMAIL_TOKEN),
}


@pytest.fixture(autouse=True)
def _forget_channels():
    """The webhook channel cache is per process: a channel of an earlier test must not answer."""
    from apps.social.selectors import forget_channels

    forget_channels()
    yield
    forget_channels()


@dataclass
class Channels:
    x: Channel
    facebook: Channel
    instagram: Channel
    linkedin: Channel
    email: Channel
    pec: Channel


@pytest.fixture
def channels(world) -> Channels:
    ensure_default_rules()
    x = world.channel
    x.secrets = {"consumer_secret": X_SECRET}
    x.account_id = BRAND_X_ID
    x.save()

    def make(kind, slug, account_id, secrets):
        return ChannelFactory(kind=kind, name=slug, slug=slug, team=world.care, account_id=account_id,
                              secrets=secrets)

    meta = {"app_secret": META_SECRET, "verify_token": VERIFY_TOKEN}
    return Channels(
        x=x,
        facebook=make(Channel.Kind.FACEBOOK, "demo-facebook", PAGE_ID, meta),
        instagram=make(Channel.Kind.INSTAGRAM, "demo-instagram", IG_ACCOUNT, meta),
        linkedin=make(Channel.Kind.LINKEDIN, "demo-linkedin", ORG_URN, {"client_secret": LINKEDIN_SECRET}),
        email=make(Channel.Kind.EMAIL, "demo-email", "care@bancaesempio.it", {"token": EMAIL_TOKEN}),
        pec=make(Channel.Kind.CERTIFIED_EMAIL, "demo-pec", "reclami@pec.bancaesempio.it", {"token": EMAIL_TOKEN}),
    )


@pytest.fixture
def deliver(client, channels, django_capture_on_commit_callbacks):
    """POST a delivery (fixture name or bytes), signed like the platform does, and run the queued
    processing as the worker would once the request's transaction commits."""

    def _deliver(platform: str, body, *, slug: str | None = None, process: bool = True, headers=None):
        if isinstance(body, str):
            body = fixture_bytes(body)
        slug = slug or {
            "x": "demo-x", "meta": "demo-facebook", "linkedin": "demo-linkedin", "email": "demo-email",
        }[platform]
        header, signer = SIGNERS[platform]
        extra = {header: signer(body)}
        extra.update(headers or {})
        content_type = "message/rfc822" if platform == "email" else "application/json"
        with django_capture_on_commit_callbacks(execute=process):
            return client.post(f"/webhooks/{platform}/{slug}/", data=body, content_type=content_type, **extra)

    return _deliver
