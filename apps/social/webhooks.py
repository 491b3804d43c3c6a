"""Webhook endpoints: handshake, then verify → store → queue → 200, in milliseconds.

Every refusal is a clear 4xx with a JSON reason; the order of checks is fixed: unknown channel
404, oversized body 413 (before reading it), bad signature 403 (before parsing it; nothing is
stored), unreadable body 400. A database outage answers 503 so the platform retries.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from apps.tickets.models import Channel

from . import selectors, services
from .adapters import EMAIL, LINKEDIN, META, MalformedPayload, X, linkedin, meta, parse_delivery, x
from .adapters.base import signature_matches

logger = logging.getLogger(__name__)

KEPT_HEADERS = ("Content-Type", "Content-Length", "User-Agent", "X-Forwarded-For")
MAX_HANDSHAKE_TOKEN = 512


class Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Platform:
    source: str
    kinds: frozenset[str]
    signature_header: str
    verify: Callable[[bytes, str, Channel], bool]


PLATFORMS = {
    X: Platform(
        X, frozenset({Channel.Kind.X}), x.SIGNATURE_HEADER,
        lambda body, header, channel: x.signature_valid(body, header, channel.secret("consumer_secret")),
    ),
    META: Platform(
        META, frozenset({Channel.Kind.FACEBOOK, Channel.Kind.INSTAGRAM}), meta.SIGNATURE_HEADER,
        lambda body, header, channel: meta.signature_valid(body, header, channel.secret("app_secret")),
    ),
    LINKEDIN: Platform(
        LINKEDIN, frozenset({Channel.Kind.LINKEDIN}), linkedin.SIGNATURE_HEADER,
        lambda body, header, channel: linkedin.signature_valid(body, header, channel.secret("client_secret")),
    ),
    EMAIL: Platform(
        EMAIL, frozenset({Channel.Kind.EMAIL, Channel.Kind.CERTIFIED_EMAIL}), "X-Webhook-Token",
        lambda body, header, channel: bool(channel.secret("token"))
        and signature_matches(channel.secret("token"), header),
    ),
}


def guarded(view):
    """No request reaches a 500: refusals become their 4xx, a database outage a 503."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except Refused as exc:
            return JsonResponse({"error": exc.message}, status=exc.status)
        except DatabaseError:
            logger.exception("Database unavailable while accepting a webhook delivery")
            return JsonResponse({"error": "Temporarily unavailable, retry."}, status=503,
                                headers={"Retry-After": "5"})

    return csrf_exempt(wrapper)


def channel_for(slug: str, kinds) -> Channel:
    channel = selectors.active_channel(slug)
    if channel is None or channel.kind not in kinds:
        raise Refused(404, "Unknown channel.")
    return channel


def mail_max_bytes() -> int:
    """Mail carries attachments: it gets its own, larger limit."""
    return getattr(settings, "INGEST_MAIL_MAX_BYTES", 10 * 1024 * 1024)


def read_body(request, limit: int) -> bytes:
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise Refused(400, "Invalid Content-Length.")
    if declared > limit:
        raise Refused(413, f"The body is larger than {limit} bytes.")
    body = request.read(limit + 1)
    if len(body) > limit:
        raise Refused(413, f"The body is larger than {limit} bytes.")
    return body


def receive(request, channel: Channel, platform: Platform) -> JsonResponse:
    """Verify, parse, store and queue one delivery."""
    body = read_body(request, mail_max_bytes() if platform.source == EMAIL else settings.WEBHOOK_MAX_BODY_BYTES)
    if not platform.verify(body, request.headers.get(platform.signature_header, ""), channel):
        raise Refused(403, "Missing or invalid signature.")
    try:
        items = parse_delivery(platform.source, body, channel_kind=channel.kind, account_id=channel.account_id)
    except MalformedPayload as exc:
        raise Refused(400, str(exc))
    except Exception:
        # The adapters map every shape they know to MalformedPayload; this is a body they did
        # not foresee. It is the sender's to fix, and logged for us.
        logger.exception("Unreadable %s delivery to %s", platform.source, channel.slug)
        raise Refused(400, "The body could not be read.")
    headers = {
        name: request.headers[name][:500]
        for name in (*KEPT_HEADERS, platform.signature_header)
        if name in request.headers and name != "X-Webhook-Token"
    }
    accepted = services.inbound_delivery_store(
        channel=channel, source=platform.source, body=body, headers=headers, items=items
    )
    return JsonResponse({"accepted": accepted.accepted, "duplicates": accepted.duplicates})


def handshake_param(request, name: str) -> str:
    value = request.GET.get(name, "")
    if not value or len(value) > MAX_HANDSHAKE_TOKEN:
        raise Refused(400, f"{name} is required (at most {MAX_HANDSHAKE_TOKEN} characters).")
    return value


@guarded
@require_http_methods(["GET", "POST"])
def x_webhook(request, slug: str):
    """X Account Activity: CRC on GET, signed deliveries on POST."""
    platform = PLATFORMS[X]
    channel = channel_for(slug, platform.kinds)
    if request.method == "POST":
        return receive(request, channel, platform)
    token = handshake_param(request, "crc_token")
    secret = channel.secret("consumer_secret")
    if not secret:
        raise Refused(403, "The channel has no consumer secret.")
    return JsonResponse(x.crc_response(token, secret))


@guarded
@require_http_methods(["GET", "POST"])
def meta_webhook(request, slug: str):
    """Facebook / Instagram / Messenger: verify-token handshake on GET, signed deliveries on POST."""
    platform = PLATFORMS[META]
    channel = channel_for(slug, platform.kinds)
    if request.method == "POST":
        return receive(request, channel, platform)
    challenge = meta.handshake(request.GET, channel.secret("verify_token"))
    if challenge is None or len(challenge) > MAX_HANDSHAKE_TOKEN:
        raise Refused(403, "Verification failed.")
    return HttpResponse(challenge, content_type="text/plain; charset=utf-8")


@guarded
@require_http_methods(["GET", "POST"])
def linkedin_webhook(request, slug: str):
    """LinkedIn: challenge on GET (re-validated every two hours), signed notifications on POST."""
    platform = PLATFORMS[LINKEDIN]
    channel = channel_for(slug, platform.kinds)
    if request.method == "POST":
        return receive(request, channel, platform)
    code = handshake_param(request, "challengeCode")
    secret = channel.secret("client_secret")
    if not secret:
        raise Refused(403, "The channel has no client secret.")
    return JsonResponse(linkedin.challenge_response(code, secret))


@guarded
@require_http_methods(["POST"])
def email_webhook(request, slug: str):
    """A raw RFC 5322 message, authenticated by the channel's token in X-Webhook-Token."""
    platform = PLATFORMS[EMAIL]
    return receive(request, channel_for(slug, platform.kinds), platform)
