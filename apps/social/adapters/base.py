"""What every platform adapter returns, and the checks they share.

Adapters are pure: bytes and secrets in, dataclasses out. They never touch the database, so
they can be tested with recorded deliveries alone and re-run on a stored raw event (replay).
"""

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

IN = "in"
OUT = "out"

ADD = "add"
EDIT = "edit"
REMOVE = "remove"

MAX_ITEMS_PER_DELIVERY = 1000


class MalformedPayload(ValueError):
    """The body is not what the platform sends: answered 400, nothing stored."""


@dataclass(frozen=True)
class Author:
    external_id: str
    handle: str = ""
    name: str = ""
    followers_count: int | None = None
    email: str = ""


@dataclass(frozen=True)
class InboundItem:
    """One message-like thing found in a delivery, in the platform-neutral shape ingest needs.

    `event_key` is what an InboundEvent is deduplicated on (unique per channel); it equals
    `external_id` except for changes to a known message (a Meta comment edited or removed).
    `ignore_reason` marks items that are recognised but are not messages (a LinkedIn like):
    they are stored as ignored events, so nothing the platform sent disappears unseen.
    """

    platform: str
    event_key: str
    external_id: str
    kind: str  # comment | dm | post | mail
    direction: str = IN
    action: str = ADD
    text: str = ""
    subject: str = ""
    author: Author | None = None
    created_at: datetime | None = None
    parent_external_id: str = ""
    references: tuple[str, ...] = ()
    conversation_key: str = ""
    hashtags: tuple[str, ...] = ()
    is_public: bool = True
    context: dict = field(default_factory=dict)
    ticket_reference: int | None = None
    ignore_reason: str = ""
    raw: dict = field(default_factory=dict)


def hmac_sha256(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def signature_matches(expected: str, received: str) -> bool:
    """Constant-time comparison of two signature strings (ASCII; anything else never matches)."""
    try:
        return hmac.compare_digest(expected.encode("ascii"), received.encode("ascii"))
    except UnicodeEncodeError:
        return False


# The largest follower count a PositiveIntegerField holds on every backend.
MAX_COUNT = 2**31 - 1
# What no database stores as text: NUL (PostgreSQL refuses it) and lone surrogates (not UTF-8).
UNSTORABLE_RE = re.compile(r"[\x00\ud800-\udfff]")
# The JSON escapes that decode to those characters (raw NUL or surrogate bytes are not valid JSON).
UNSTORABLE_ESCAPE_RE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def clean_text(value: str) -> str:
    """The text with NUL dropped and lone surrogates replaced by U+FFFD, so it can be stored."""
    if not UNSTORABLE_RE.search(value):
        return value
    return UNSTORABLE_RE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", value)


def clean_tree(data):
    """Every string of a parsed JSON tree, keys included, cleaned in place (no recursion: the
    tree may be as deep as the parser allowed)."""
    if isinstance(data, str):
        return clean_text(data)
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            pairs = list(node.items())
            node.clear()
            for key, value in pairs:
                node[clean_text(key) if isinstance(key, str) else key] = (
                    clean_text(value) if isinstance(value, str) else value
                )
                if isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                if isinstance(value, str):
                    node[index] = clean_text(value)
                elif isinstance(value, dict | list):
                    stack.append(value)
    return data


def clean_item(item: InboundItem) -> InboundItem:
    """The item with only storable text and a follower count the database holds.

    A platform may relay whatever its users typed (a NUL, half of an emoji's surrogate pair)
    and counts no column holds; storing must never fail on them, or the event would be retried
    and parked for nothing.
    """
    author = item.author
    if author is not None:
        count = author.followers_count
        author = Author(
            external_id=clean_text(author.external_id), handle=clean_text(author.handle),
            name=clean_text(author.name), email=clean_text(author.email),
            followers_count=None if count is None or count < 0 else min(count, MAX_COUNT),
        )
    return replace(
        item,
        event_key=clean_text(item.event_key), external_id=clean_text(item.external_id),
        text=clean_text(item.text), subject=clean_text(item.subject), author=author,
        parent_external_id=clean_text(item.parent_external_id),
        references=tuple(clean_text(r) for r in item.references),
        conversation_key=clean_text(item.conversation_key),
        hashtags=tuple(clean_text(h) for h in item.hashtags),
        context=clean_tree(item.context), ignore_reason=clean_text(item.ignore_reason),
    )


def load_json_object(body: bytes) -> dict:
    """Parse a JSON object from raw bytes; anything else is a malformed delivery.

    Strings are cleaned of what no database stores (see `clean_text`); the scan for the escapes
    that produce them keeps the usual body from being walked twice.
    """
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedPayload(f"The body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedPayload("The body is not a JSON object.")
    if UNSTORABLE_ESCAPE_RE.search(body):
        clean_tree(data)
    return data


def as_dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def as_list(value) -> list:
    return value if isinstance(value, list) else []


def as_str(value) -> str:
    """Platform ids arrive as strings or numbers; texts as strings; anything else is empty."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, str | int):
        return str(value)
    return ""


def as_int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def from_epoch(value, *, millis: bool = False) -> datetime | None:
    number = as_int(value)
    if number is None and isinstance(value, float):
        number = int(value)
    if number is None:
        return None
    try:
        return datetime.fromtimestamp(number / 1000 if millis else number, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def from_iso(value) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


HASHTAG_RE = re.compile(r"(?<![\w#])#(\w{1,100})")


def hashtags_in(text: str) -> tuple[str, ...]:
    """Hashtags written in the text, for platforms whose payload does not list them."""
    seen: dict[str, None] = {}
    for tag in HASHTAG_RE.findall(text):
        seen.setdefault(tag, None)
    return tuple(seen)


def check_item_count(count: int) -> None:
    if count > MAX_ITEMS_PER_DELIVERY:
        raise MalformedPayload(f"More than {MAX_ITEMS_PER_DELIVERY} items in one delivery.")
