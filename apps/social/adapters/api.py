"""The generic inbound API (`POST /api/inbound/`): one item per request, any other source.

The DRF serializer in apps.social.apis validates requests against the limits below and
documents them; this parser turns the stored body into the same item on processing/replay.
"""

from .base import (
    IN,
    OUT,
    Author,
    InboundItem,
    MalformedPayload,
    as_dict,
    as_int,
    as_list,
    as_str,
    from_iso,
    hashtags_in,
    load_json_object,
)

PLATFORM = "api"
KINDS = ("comment", "dm", "post", "mail")
MAX_ID = 255
MAX_SUBJECT = 300
MAX_NAME = 200
MAX_HASHTAGS = 30
MAX_CONTEXT_TEXT = 5000


def parse(body: bytes, *, account_id: str = "") -> list[InboundItem]:
    data = load_json_object(body)
    external_id = as_str(data.get("external_id"))[:MAX_ID]
    text = as_str(data.get("text"))
    if not external_id or not text.strip():
        raise MalformedPayload("external_id and text are required.")
    author_data = as_dict(data.get("author"))
    author_id = as_str(author_data.get("external_id"))[:MAX_ID]
    author = None
    if author_id:
        author = Author(
            external_id=author_id,
            handle=as_str(author_data.get("handle"))[:MAX_NAME],
            name=as_str(author_data.get("name"))[:MAX_NAME],
            followers_count=as_int(author_data.get("followers_count")),
            email=as_str(author_data.get("email"))[:254],
        )
    kind = as_str(data.get("kind")) or "post"
    if kind not in KINDS:
        raise MalformedPayload(f"kind must be one of {', '.join(KINDS)}.")
    hashtags = [as_str(h).lstrip("#")[:100] for h in as_list(data.get("hashtags"))][:MAX_HASHTAGS]
    context = {
        key: as_str(value)[:MAX_CONTEXT_TEXT]
        for key, value in as_dict(data.get("context")).items()
        if key in ("text", "url", "id") and as_str(value)
    }
    return [
        InboundItem(
            platform=PLATFORM,
            event_key=external_id,
            external_id=external_id,
            kind=kind,
            direction=OUT if data.get("direction") == OUT else IN,
            text=text,
            subject=as_str(data.get("subject"))[:MAX_SUBJECT],
            author=author,
            created_at=from_iso(data.get("created_at")),
            parent_external_id=as_str(data.get("parent_external_id"))[:MAX_ID],
            conversation_key=as_str(data.get("conversation_key"))[:MAX_ID],
            hashtags=tuple(dict.fromkeys(h for h in hashtags if h)) or hashtags_in(text),
            is_public=data.get("is_public") is not False,
            context=context,
            raw=data,
        )
    ]
