"""One module per platform: verify and parse (publishing lives in apps.replies.publishers).

`parse_delivery` is how processing and replay read a stored raw delivery back into items, with
the same code the webhook used when it accepted the delivery.
"""

from dataclasses import replace

from . import api, email, linkedin, meta, x
from .base import InboundItem, MalformedPayload, clean_item, load_json_object

X = "x"
X_V2 = "x-v2"
META = "meta"
LINKEDIN = "linkedin"
EMAIL = "email"
API = "api"
SOURCES = (X, X_V2, META, LINKEDIN, EMAIL, API)


def parse_delivery(source: str, body: bytes, *, channel_kind: str, account_id: str) -> list[InboundItem]:
    """The items of one stored delivery, as its source's adapter reads them, ready to store."""
    return [clean_item(item) for item in _parse(source, body, channel_kind=channel_kind, account_id=account_id)]


def _parse(source: str, body: bytes, *, channel_kind: str, account_id: str) -> list[InboundItem]:
    if source == X:
        return x.parse(body, account_id=account_id)
    if source == X_V2:
        return [x.parse_v2(load_json_object(body), account_id=account_id)]
    if source == META:
        return [
            item if item.platform == channel_kind else replace(
                item, ignore_reason=f"A {item.platform} item delivered to a {channel_kind} channel."
            )
            for item in meta.parse(body, account_id=account_id)
        ]
    if source == LINKEDIN:
        return linkedin.parse(body, account_id=account_id)
    if source == EMAIL:
        return email.parse(body, account_id=account_id, certified=channel_kind == "certified_email")
    if source == API:
        return api.parse(body, account_id=account_id)
    raise MalformedPayload(f"Unknown source {source!r}.")


__all__ = ["InboundItem", "MalformedPayload", "parse_delivery", "SOURCES"]
