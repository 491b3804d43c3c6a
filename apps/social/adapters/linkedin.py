"""LinkedIn: organization social action notifications (comments under the brand's posts)."""

from .base import (
    IN,
    OUT,
    Author,
    InboundItem,
    MalformedPayload,
    as_dict,
    as_str,
    check_item_count,
    from_epoch,
    hashtags_in,
    hmac_sha256,
    load_json_object,
    signature_matches,
)

PLATFORM = "linkedin"
SIGNATURE_HEADER = "X-LI-Signature"
PREFIX = "hmacsha256="
COMMENT_ACTIONS = {"COMMENT": IN, "ADMIN_COMMENT": OUT}
NOT_MESSAGES = {
    "LIKE": "A like is a reaction, not a message.",
    "SHARE": "A reshare carries no words to the brand.",
}


def challenge_response(challenge_code: str, client_secret: str) -> dict:
    return {
        "challengeCode": challenge_code,
        "challengeResponse": hmac_sha256(client_secret, challenge_code.encode()).hex(),
    }


def signature_valid(body: bytes, header: str, client_secret: str) -> bool:
    """LinkedIn's documentation reads two ways: the signed string is the body or
    "hmacsha256=" + body, and the header may carry the prefix or not. Accept every reading."""
    if not client_secret or not header:
        return False
    received = header.strip().lower()
    if received.startswith(PREFIX):
        received = received[len(PREFIX):]
    plain = hmac_sha256(client_secret, body).hex()
    prefixed = hmac_sha256(client_secret, PREFIX.encode() + body).hex()
    # Both comparisons always run so the time taken does not tell which reading matched.
    return bool(signature_matches(plain, received) | signature_matches(prefixed, received))


def _person_id(urn: str) -> str:
    return urn.rsplit(":", 1)[-1] if urn else ""


def _notification_item(notification: dict) -> InboundItem:
    notification_id = as_str(notification.get("notificationId"))
    if not notification_id:
        raise MalformedPayload("A notification without notificationId.")
    action = as_str(notification.get("action"))
    source_post = as_str(notification.get("sourcePost"))
    decorated_post = as_dict(notification.get("decoratedSourcePost"))
    activity = as_dict(notification.get("decoratedGeneratedActivity"))
    comment = as_dict(activity.get("comment"))
    text = as_str(comment.get("text")) or as_str(as_dict(comment.get("message")).get("text"))
    owner = as_str(comment.get("owner"))
    external_id = (
        as_str(comment.get("entity")) or as_str(notification.get("generatedActivity")) or notification_id
    )
    context = {}
    post_id = source_post or as_str(decorated_post.get("entity"))
    if post_id:
        context = {"id": post_id, "url": f"https://www.linkedin.com/feed/update/{post_id}/"}
        if isinstance(decorated_post.get("text"), str):
            context["text"] = decorated_post["text"]
    ignore_reason = ""
    if action not in COMMENT_ACTIONS:
        ignore_reason = NOT_MESSAGES.get(action, f"LinkedIn {action or 'unknown'} notifications are not messages.")
    elif not text:
        ignore_reason = "A comment notification without text."
    return InboundItem(
        platform=PLATFORM,
        event_key=notification_id,
        external_id=external_id,
        kind="comment",
        direction=COMMENT_ACTIONS.get(action, IN),
        text=text,
        # Notifications carry only the member URN; the name stays unknown until an agent looks.
        author=Author(external_id=owner, handle=_person_id(owner)) if owner else None,
        created_at=from_epoch(notification.get("lastModifiedAt"), millis=True),
        parent_external_id=as_str(comment.get("object")) or source_post,
        conversation_key=f"li:{post_id}" if post_id else f"li:{external_id}",
        hashtags=hashtags_in(text),
        is_public=True,
        context=context,
        ignore_reason=ignore_reason,
        raw=notification,
    )


def parse(body: bytes, *, account_id: str = "") -> list[InboundItem]:
    data = load_json_object(body)
    notifications = data.get("notifications")
    if not isinstance(notifications, list):
        raise MalformedPayload("notifications must be a list.")
    check_item_count(len(notifications))
    items = []
    for notification in notifications:
        if not isinstance(notification, dict):
            raise MalformedPayload("A notification is not an object.")
        items.append(_notification_item(notification))
    return items

