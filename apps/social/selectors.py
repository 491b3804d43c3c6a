import time

from django.db.models import QuerySet

from apps.tickets.models import Channel, Message
from apps.tickets.selectors import ticket_visible_qs

from .services import INTAKE_KINDS


def contacts_logged_recently(user, *, limit: int = 10) -> QuerySet[Message]:
    """Letters, certified e-mails and calls logged lately, in tickets this user may see."""
    return (
        Message.objects.filter(channel__kind__in=INTAKE_KINDS, ticket__in=ticket_visible_qs(user))
        .select_related("ticket", "channel", "author_identity")
        .order_by("-received_at", "-pk")[:limit]
    )


CHANNEL_TTL_SECONDS = 5.0
_channels: dict[str, tuple[float, Channel]] = {}


def active_channel(slug: str) -> Channel | None:
    """The active channel with this slug, kept a few seconds per process.

    Webhooks look their channel up on every delivery; a platform sends bursts. A change made in
    this process (admin save) applies at once, in other processes within CHANNEL_TTL_SECONDS.
    Unknown slugs are not remembered, so probing random URLs cannot grow the cache.
    """
    now = time.monotonic()
    hit = _channels.get(slug)
    if hit is not None and now - hit[0] < CHANNEL_TTL_SECONDS:
        return hit[1]
    channel = Channel.objects.filter(slug=slug, is_active=True).first()
    if channel is None:
        _channels.pop(slug, None)
    else:
        _channels[slug] = (now, channel)
    return channel


def forget_channels(**kwargs) -> None:
    """Signal receiver: a channel changed or was deleted."""
    _channels.clear()
