"""X (Twitter): Account Activity API v1.1 webhooks, and API v2 post lines for backfill."""

import base64
from datetime import datetime

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
    check_item_count,
    from_epoch,
    from_iso,
    hashtags_in,
    hmac_sha256,
    load_json_object,
    signature_matches,
)

PLATFORM = "x"
SIGNATURE_HEADER = "X-Twitter-Webhooks-Signature"
CREATED_AT_FORMAT = "%a %b %d %H:%M:%S %z %Y"


def crc_response(crc_token: str, consumer_secret: str) -> dict:
    """The CRC answer X expects at registration and every hour after."""
    digest = hmac_sha256(consumer_secret, crc_token.encode())
    return {"response_token": "sha256=" + base64.b64encode(digest).decode()}


def signature_valid(body: bytes, header: str, consumer_secret: str) -> bool:
    if not consumer_secret or not header:
        return False
    expected = "sha256=" + base64.b64encode(hmac_sha256(consumer_secret, body)).decode()
    return signature_matches(expected, header.strip())


def status_url(tweet_id: str) -> str:
    return f"https://x.com/i/web/status/{tweet_id}"


def _created_at(tweet: dict) -> datetime | None:
    value = tweet.get("created_at")
    if isinstance(value, str):
        try:
            return datetime.strptime(value, CREATED_AT_FORMAT)
        except ValueError:
            pass
    return from_epoch(tweet.get("timestamp_ms"), millis=True)


def _full_text_and_entities(tweet: dict) -> tuple[str, dict]:
    if tweet.get("truncated") is True:
        extended = as_dict(tweet.get("extended_tweet"))
        if isinstance(extended.get("full_text"), str):
            return extended["full_text"], as_dict(extended.get("entities"))
    text = tweet.get("full_text") if isinstance(tweet.get("full_text"), str) else tweet.get("text")
    return as_str(text), as_dict(tweet.get("entities"))


def _hashtags(entities: dict, text: str) -> tuple[str, ...]:
    tags = [as_str(as_dict(h).get("text")) for h in as_list(entities.get("hashtags"))]
    tags = [t for t in tags if t]
    return tuple(dict.fromkeys(tags)) if tags else hashtags_in(text)


def _author(user: dict) -> Author | None:
    user_id = as_str(user.get("id_str")) or as_str(user.get("id"))
    if not user_id:
        return None
    return Author(
        external_id=user_id,
        handle=as_str(user.get("screen_name")),
        name=as_str(user.get("name")),
        followers_count=as_int(user.get("followers_count")),
    )


def _tweet_item(tweet: dict, brand_id: str) -> InboundItem:
    tweet_id = as_str(tweet.get("id_str"))
    if not tweet_id:
        raise MalformedPayload("A tweet without id_str.")
    author = _author(as_dict(tweet.get("user")))
    text, entities = _full_text_and_entities(tweet)
    parent = as_str(tweet.get("in_reply_to_status_id_str"))
    outgoing = bool(author and brand_id and author.external_id == brand_id)
    context = {}
    quoted = as_dict(tweet.get("quoted_status"))
    quoted_author = as_str(as_dict(quoted.get("user")).get("id_str"))
    if quoted and quoted_author == brand_id:
        quoted_text, _entities = _full_text_and_entities(quoted)
        quoted_id = as_str(quoted.get("id_str"))
        context = {"text": quoted_text, "id": quoted_id, "url": status_url(quoted_id)}
    elif parent and as_str(tweet.get("in_reply_to_user_id_str")) == brand_id:
        context = {"id": parent, "url": status_url(parent)}
    ignore_reason = ""
    if tweet.get("retweeted_status") is not None:
        ignore_reason = "A retweet repeats someone else's post; it is not a message."
    return InboundItem(
        platform=PLATFORM,
        event_key=tweet_id,
        external_id=tweet_id,
        kind="comment" if parent else "post",
        direction=OUT if outgoing else IN,
        text=text,
        author=author,
        created_at=_created_at(tweet),
        parent_external_id=parent,
        # v1.1 carries no conversation id: replies to the same post share the parent's thread.
        conversation_key=f"x:{parent or tweet_id}",
        hashtags=_hashtags(entities, text),
        is_public=True,
        context=context,
        ignore_reason=ignore_reason,
        raw=tweet,
    )


def _dm_item(event: dict, users: dict, brand_id: str) -> InboundItem | None:
    if event.get("type") != "message_create":
        return None
    event_id = as_str(event.get("id"))
    create = as_dict(event.get("message_create"))
    sender = as_str(create.get("sender_id"))
    recipient = as_str(as_dict(create.get("target")).get("recipient_id"))
    if not event_id or not sender:
        raise MalformedPayload("A direct message without id or sender.")
    data = as_dict(create.get("message_data"))
    text = as_str(data.get("text"))
    outgoing = bool(brand_id) and sender == brand_id
    customer_id = recipient if outgoing else sender
    profile = as_dict(users.get(sender))
    author = Author(
        external_id=sender,
        handle=as_str(profile.get("screen_name")),
        name=as_str(profile.get("name")),
        followers_count=as_int(profile.get("followers_count")),
    )
    return InboundItem(
        platform=PLATFORM,
        event_key=f"dm:{event_id}",
        external_id=f"dm:{event_id}",
        kind="dm",
        direction=OUT if outgoing else IN,
        text=text,
        author=author,
        created_at=from_epoch(event.get("created_timestamp"), millis=True),
        conversation_key=f"x-dm:{customer_id}",
        hashtags=_hashtags(as_dict(data.get("entities")), text),
        is_public=False,
        raw=event,
    )


def parse(body: bytes, *, account_id: str = "") -> list[InboundItem]:
    """Items of one Account Activity delivery; other event kinds (likes, follows) yield none."""
    data = load_json_object(body)
    brand_id = as_str(data.get("for_user_id")) or account_id
    tweets = data.get("tweet_create_events", [])
    dms = data.get("direct_message_events", [])
    if not isinstance(tweets, list) or not isinstance(dms, list):
        raise MalformedPayload("tweet_create_events and direct_message_events must be lists.")
    check_item_count(len(tweets) + len(dms))
    items = []
    for tweet in tweets:
        if not isinstance(tweet, dict):
            raise MalformedPayload("A tweet is not an object.")
        items.append(_tweet_item(tweet, brand_id))
    users = as_dict(data.get("users"))
    for event in dms:
        if not isinstance(event, dict):
            raise MalformedPayload("A direct message event is not an object.")
        item = _dm_item(event, users, brand_id)
        if item is not None:
            items.append(item)
    return items


def parse_v2(line: dict, *, account_id: str = "") -> InboundItem:
    """One post from the v2 filtered stream or search (`{"data": …, "includes": …}`)."""
    data = as_dict(line.get("data")) if "data" in line else line
    post_id = as_str(data.get("id"))
    if not post_id:
        raise MalformedPayload("A post without id.")
    includes = as_dict(line.get("includes"))
    users = {as_str(as_dict(u).get("id")): as_dict(u) for u in as_list(includes.get("users"))}
    tweets = {as_str(as_dict(t).get("id")): as_dict(t) for t in as_list(includes.get("tweets"))}
    author_id = as_str(data.get("author_id"))
    profile = users.get(author_id, {})
    metrics = as_dict(profile.get("public_metrics"))
    author = (
        Author(
            external_id=author_id,
            handle=as_str(profile.get("username")),
            name=as_str(profile.get("name")),
            followers_count=as_int(metrics.get("followers_count")),
        )
        if author_id
        else None
    )
    parent = ""
    context = {}
    for ref in as_list(data.get("referenced_tweets")):
        ref = as_dict(ref)
        ref_id = as_str(ref.get("id"))
        if ref.get("type") == "replied_to":
            parent = ref_id
        referenced = tweets.get(ref_id)
        if referenced and ref.get("type") in ("replied_to", "quoted") and (
            not account_id or as_str(referenced.get("author_id")) == account_id
        ):
            context = {"text": as_str(referenced.get("text")), "id": ref_id, "url": status_url(ref_id)}
    text = as_str(data.get("text"))
    tags = tuple(
        dict.fromkeys(
            t for t in (as_str(as_dict(h).get("tag")) for h in
                        as_list(as_dict(data.get("entities")).get("hashtags"))) if t
        )
    ) or hashtags_in(text)
    is_retweet = any(as_dict(r).get("type") == "retweeted" for r in as_list(data.get("referenced_tweets")))
    return InboundItem(
        platform=PLATFORM,
        event_key=post_id,
        external_id=post_id,
        kind="comment" if parent else "post",
        direction=OUT if account_id and author_id == account_id else IN,
        text=text,
        author=author,
        created_at=from_iso(data.get("created_at")),
        parent_external_id=parent,
        conversation_key=f"x:{as_str(data.get('conversation_id')) or parent or post_id}",
        hashtags=tags,
        is_public=True,
        context=context,
        ignore_reason="A retweet repeats someone else's post; it is not a message." if is_retweet else "",
        raw=line,
    )
