"""What every platform adapter returns, and the checks they share.

Adapters are pure: bytes and secrets in, dataclasses out. They never touch the database, so
they can be tested with recorded deliveries alone and re-run on a stored raw event (replay).
"""

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
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


def load_json_object(body: bytes) -> dict:
    """Parse a JSON object from raw bytes; anything else is a malformed delivery."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedPayload(f"The body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedPayload("The body is not a JSON object.")
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
