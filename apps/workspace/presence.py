"""Who else has a ticket open, and who is writing a reply to it: kept in the cache, never in SQL.

Each ticket has one cache entry mapping user id → (name, last seen, writing until). Pages refresh
it by polling (every POLL_SECONDS); an entry older than TTL_SECONDS is gone, so a closed tab
disappears by itself. Two agents polling the same ticket in the same instant may overwrite
each other's write; the next poll restores it, which is cheaper than a lock for a hint that is
only ever seconds old. The cache must be shared by every web process (Redis in production).
"""

import time
from dataclasses import dataclass

from django.core.cache import cache

POLL_SECONDS = 10
TTL_SECONDS = 30
WRITING_SECONDS = 15
_PREFIX = "ws:presence:"


@dataclass(frozen=True)
class Presence:
    user_id: int
    name: str
    writing: bool


def _key(ticket_id: int) -> str:
    return f"{_PREFIX}{ticket_id}"


def _alive(entries: dict, now: float) -> dict:
    return {uid: e for uid, e in entries.items() if now - e[1] < TTL_SECONDS}


def presence_mark(*, ticket_id: int, user, writing: bool = False) -> None:
    """Record that `user` has the ticket open now (and is typing a reply when `writing`)."""
    now = time.time()
    entries = _alive(cache.get(_key(ticket_id)) or {}, now)
    previous = entries.get(user.pk)
    writing_until = now + WRITING_SECONDS if writing else (previous[2] if previous else 0)
    entries[user.pk] = (user.first_name or user.username, now, writing_until)
    cache.set(_key(ticket_id), entries, TTL_SECONDS)


def presence_leave(*, ticket_id: int, user) -> None:
    """Forget `user` on this ticket at once (they closed it or sent their reply)."""
    entries = cache.get(_key(ticket_id)) or {}
    if entries.pop(user.pk, None) is not None:
        cache.set(_key(ticket_id), entries, TTL_SECONDS)


def _others(entries: dict, now: float, exclude_user_id: int | None) -> list[Presence]:
    people = [
        Presence(user_id=uid, name=name, writing=writing_until > now)
        for uid, (name, _seen, writing_until) in _alive(entries, now).items()
        if uid != exclude_user_id
    ]
    return sorted(people, key=lambda p: (not p.writing, p.name.lower()))


def presence_for_ticket(ticket_id: int, *, exclude_user_id: int | None = None) -> list[Presence]:
    """The other people on this ticket now, writers first."""
    return _others(cache.get(_key(ticket_id)) or {}, time.time(), exclude_user_id)


def presence_for_tickets(
    ticket_ids, *, exclude_user_id: int | None = None
) -> dict[int, list[Presence]]:
    """Presence for a page of tickets in one cache round trip; tickets nobody has open are left out."""
    ids = list(ticket_ids)
    if not ids:
        return {}
    found = cache.get_many([_key(pk) for pk in ids])
    now = time.time()
    result = {}
    for pk in ids:
        people = _others(found.get(_key(pk)) or {}, now, exclude_user_id)
        if people:
            result[pk] = people
    return result
