"""Meta: Facebook Page feed comments, Instagram comments, Messenger and Instagram DMs."""

import hashlib
import hmac

from .base import (
    ADD,
    EDIT,
    IN,
    OUT,
    REMOVE,
    Author,
    InboundItem,
    MalformedPayload,
    as_dict,
    as_list,
    as_str,
    check_item_count,
    from_epoch,
    from_iso,
    hashtags_in,
    load_json_object,
    signature_matches,
)

FACEBOOK = "facebook"
INSTAGRAM = "instagram"
SIGNATURE_HEADER = "X-Hub-Signature-256"
OBJECT_PLATFORM = {"page": FACEBOOK, "instagram": INSTAGRAM}
VERBS = {"add": ADD, "edited": EDIT, "edit": EDIT, "remove": REMOVE}


def handshake(params, verify_token: str) -> str | None:
    """The challenge to echo back when Meta's subscription check carries our verify token."""
    if not verify_token or params.get("hub.mode") != "subscribe":
        return None
    if not signature_matches(verify_token, params.get("hub.verify_token", "")):
        return None
    challenge = params.get("hub.challenge", "")
    return challenge or None


def signature_valid(body: bytes, header: str, app_secret: str) -> bool:
    """Checked over the raw bytes: Meta escapes non-ASCII as \\uXXXX and signs exactly that."""
    if not app_secret or not header:
        return False
    expected = "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return signature_matches(expected, header.strip().lower())


def _time(value):
    return from_epoch(value) if not isinstance(value, str) or value.isdigit() else from_iso(value)


def _feed_item(value: dict, page_id: str, entry_time) -> InboundItem | None:
    item_type = value.get("item")
    if item_type not in ("comment", "post"):
        return None  # reactions, likes, shares and the page's own status updates
    verb = VERBS.get(as_str(value.get("verb")))
    if verb is None:
        return None  # hide/unhide and other moderation echoes
    item_id = as_str(value.get("comment_id" if item_type == "comment" else "post_id"))
    if not item_id:
        raise MalformedPayload("A feed change without comment_id or post_id.")
    sender = as_dict(value.get("from"))
    author_id = as_str(sender.get("id")) or as_str(value.get("sender_id"))
    author_name = as_str(sender.get("name")) or as_str(value.get("sender_name"))
    post_id = as_str(value.get("post_id"))
    parent = as_str(value.get("parent_id")) if item_type == "comment" else ""
    post = as_dict(value.get("post"))
    context = {}
    if post_id and item_type == "comment":
        context = {"id": post_id, "url": as_str(post.get("permalink_url"))
                   or f"https://www.facebook.com/{post_id}"}
        if isinstance(post.get("message"), str):
            context["text"] = post["message"]
    created = _time(value.get("created_time")) or from_epoch(entry_time)
    # An edit or removal is its own event; its time tells two edits of one comment apart.
    changed_at = as_str(value.get("created_time")) or as_str(entry_time)
    event_key = item_id if verb == ADD else f"{item_id}:{verb}:{changed_at}"
    text = as_str(value.get("message"))
    return InboundItem(
        platform=FACEBOOK,
        event_key=event_key,
        external_id=item_id,
        kind=item_type,
        direction=OUT if author_id and author_id == page_id else IN,
        action=verb,
        text=text,
        author=Author(external_id=author_id, name=author_name) if author_id else None,
        created_at=created,
        parent_external_id=parent,
        conversation_key=f"fb:{post_id or item_id}",
        hashtags=hashtags_in(text),
        is_public=True,
        context=context,
        raw=value,
    )


def _instagram_comment(value: dict, account_id: str, entry_time) -> InboundItem:
    comment_id = as_str(value.get("id"))
    if not comment_id:
        raise MalformedPayload("An Instagram comment without id.")
    sender = as_dict(value.get("from"))
    author_id = as_str(sender.get("id"))
    media = as_dict(value.get("media"))
    media_id = as_str(media.get("id"))
    text = as_str(value.get("text"))
    return InboundItem(
        platform=INSTAGRAM,
        event_key=comment_id,
        external_id=comment_id,
        kind="comment",
        direction=OUT if author_id and author_id == account_id else IN,
        text=text,
        author=Author(external_id=author_id, handle=as_str(sender.get("username"))) if author_id else None,
        created_at=from_epoch(entry_time),
        parent_external_id=as_str(value.get("parent_id")) or media_id,
        conversation_key=f"ig:{media_id or comment_id}",
        hashtags=hashtags_in(text),
        is_public=True,
        context={"id": media_id} if media_id else {},
        raw=value,
    )


def _attachment_text(attachments: list) -> str:
    lines = []
    for attachment in attachments:
        attachment = as_dict(attachment)
        url = as_str(as_dict(attachment.get("payload")).get("url"))
        lines.append(f"[{as_str(attachment.get('type')) or 'attachment'}] {url}".strip())
    return "\n".join(lines)


def _messaging_item(event: dict, platform: str, owner_id: str) -> InboundItem | None:
    message = event.get("message")
    if not isinstance(message, dict):
        return None  # delivery and read receipts, postbacks, reactions
    mid = as_str(message.get("mid"))
    sender = as_str(as_dict(event.get("sender")).get("id"))
    recipient = as_str(as_dict(event.get("recipient")).get("id"))
    if not mid or not sender:
        raise MalformedPayload("A message without mid or sender.")
    # The echo flag is what Meta documents; a message sent by the page itself is ours either way.
    outgoing = message.get("is_echo") is True or bool(owner_id) and sender == owner_id
    customer_id = recipient if outgoing else sender
    text = as_str(message.get("text"))
    attachments = _attachment_text(as_list(message.get("attachments")))
    text = "\n".join(part for part in (text, attachments) if part)
    return InboundItem(
        platform=platform,
        event_key=mid,
        external_id=mid,
        kind="dm",
        direction=OUT if outgoing else IN,
        text=text,
        author=Author(external_id=sender),
        created_at=from_epoch(event.get("timestamp"), millis=True),
        parent_external_id=as_str(as_dict(message.get("reply_to")).get("mid")),
        conversation_key=f"{platform}-dm:{customer_id}",
        is_public=False,
        raw=event,
    )


def _changes(entry: dict) -> list[dict]:
    changes = entry.get("changes")
    if changes is None and "field" in entry:
        return [entry]  # the newer Instagram shape puts field/value straight in the entry
    if changes is None:
        return []
    if not isinstance(changes, list):
        raise MalformedPayload("entry.changes must be a list.")
    return [as_dict(c) for c in changes]


def parse(body: bytes, *, account_id: str = "") -> list[InboundItem]:
    """Items of one Meta delivery (`object` page or instagram)."""
    data = load_json_object(body)
    platform = OBJECT_PLATFORM.get(as_str(data.get("object")))
    if platform is None:
        raise MalformedPayload("object must be 'page' or 'instagram'.")
    entries = data.get("entry")
    if not isinstance(entries, list):
        raise MalformedPayload("entry must be a list.")
    items = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise MalformedPayload("An entry is not an object.")
        owner_id = as_str(entry.get("id")) or account_id
        for change in _changes(entry):
            value = as_dict(change.get("value"))
            field = change.get("field")
            if platform == FACEBOOK and field == "feed":
                item = _feed_item(value, owner_id, entry.get("time"))
            elif platform == INSTAGRAM and field in ("comments", "live_comments"):
                item = _instagram_comment(value, owner_id, entry.get("time"))
            else:
                item = None
            if item is not None:
                items.append(item)
        messaging = entry.get("messaging", [])
        if not isinstance(messaging, list):
            raise MalformedPayload("entry.messaging must be a list.")
        for event in messaging:
            item = _messaging_item(as_dict(event), platform, owner_id)
            if item is not None:
                items.append(item)
        check_item_count(len(items))
    return items
