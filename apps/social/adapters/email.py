"""E-mail and certified e-mail (PEC): raw RFC 5322 bytes in, one item out."""

import email
import email.errors
import email.policy
import hashlib
import re
from datetime import UTC
from email.message import EmailMessage
from html.parser import HTMLParser

from .base import IN, OUT, Author, InboundItem, MalformedPayload, clean_tree

PLATFORM = "email"
MSG_ID_RE = re.compile(r"<[^<>\s]{1,250}>")
TICKET_REF_RE = re.compile(r"\[CT-0*(\d{1,12})\]", re.IGNORECASE)
# RecursionError: MIME parts nested deeper than the parser's recursion goes.
PARSE_ERRORS = (
    ValueError, TypeError, IndexError, AttributeError, LookupError, RecursionError, email.errors.MessageError,
)

BLOCK_TAGS = {
    "p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "pre", "hr", "section", "article", "header", "footer",
}
SKIP_TAGS = {"script", "style", "head", "title", "template", "noscript"}


class _TextExtractor(HTMLParser):
    """Visible text of an HTML mail, with line breaks where blocks end. Nothing is rendered."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in SKIP_TAGS:
            self.skipping += 1
        elif tag in BLOCK_TAGS:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")
        if tag == "a":
            href = dict(attrs).get("href") or ""
            self.links.append(href if href.startswith(("http://", "https://", "mailto:")) else "")

    def handle_endtag(self, tag):
        if tag in SKIP_TAGS:
            self.skipping = max(0, self.skipping - 1)
        elif tag in BLOCK_TAGS:
            self.parts.append("\n")
        elif tag == "a" and self.links:
            href = self.links.pop()
            if href and not self.skipping:
                self.parts.append(f" ({href.removeprefix('mailto:')})")

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _content(part) -> str:
    try:
        return part.get_content()
    except PARSE_ERRORS:
        # Unknown or lying charset: keep the words we can read rather than refuse the mail.
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", errors="replace")


def _body_text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    text = _content(body)
    if body.get_content_type() == "text/html":
        return html_to_text(text)
    return text.replace("\r\n", "\n").strip()


def _attachments(message: EmailMessage) -> list[dict]:
    found = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        found.append({
            "filename": part.get_filename() or "",
            "content_type": part.get_content_type(),
            "size": len(payload) if isinstance(payload, bytes) else 0,
        })
    return found


def _raw_header_text(value: str) -> str:
    """A header value the parser kept as undecoded 8-bit bytes (surrogate escapes): real mail
    often carries raw UTF-8 names, older mailers Windows-1252; decode them for what they are."""
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return value  # surrogates that are not escaped bytes: left to the final clean-up
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _ids(value) -> tuple[str, ...]:
    return tuple(dict.fromkeys(MSG_ID_RE.findall(str(value or ""))))


def _certified_inner(message: EmailMessage) -> EmailMessage | None:
    """A PEC envelope carries the sender's original message as postacert.eml."""
    for part in message.iter_attachments():
        if part.get_content_type() == "message/rfc822":
            inner = part.get_content()
            if isinstance(inner, EmailMessage):
                return inner
    return None


def _is_automatic(message: EmailMessage) -> bool:
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(message.get("Precedence", "")).strip().lower()
    return (
        auto not in ("", "no")
        or precedence in ("bulk", "junk", "auto_reply")
        or message.get_content_type() == "multipart/report"
    )


def parse(body: bytes, *, account_id: str = "", certified: bool = False) -> list[InboundItem]:
    """The one message in a raw e-mail; HTML-only mail is turned into plain text."""
    if not body.strip():
        raise MalformedPayload("The message is empty.")
    try:
        return [_parse(body, account_id=account_id, certified=certified)]
    except PARSE_ERRORS as exc:
        raise MalformedPayload(f"Not a readable RFC 5322 message: {exc}") from exc


def _parse(body: bytes, *, account_id: str, certified: bool) -> InboundItem:
    envelope = email.message_from_bytes(body, policy=email.policy.default)
    if envelope.get("From") is None:
        raise MalformedPayload("The message has no From header.")
    inner = _certified_inner(envelope) if certified else None
    message = inner or envelope
    sender = message["From"] if message.get("From") is not None else envelope["From"]
    addresses = sender.addresses
    if not addresses or not addresses[0].addr_spec or "@" not in addresses[0].addr_spec:
        raise MalformedPayload("The From header has no address.")
    address = addresses[0]
    mail = _raw_header_text(address.addr_spec).strip().lower()
    message_id = next(iter(_ids(envelope.get("Message-ID"))), "")
    if not message_id:
        # Without a Message-ID a redelivery must still dedupe: name the message by its bytes.
        message_id = f"<{hashlib.sha256(body).hexdigest()}@caretickets.invalid>"
    in_reply_to = _ids(envelope.get("In-Reply-To"))
    references = tuple(dict.fromkeys(_ids(envelope.get("References")) + in_reply_to))
    subject = str(message.get("Subject", "") or envelope.get("Subject", "")).strip()
    sent = envelope.get("Date")
    created = sent.datetime if sent is not None and getattr(sent, "datetime", None) else None
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    text = _body_text(message)
    attachments = _attachments(message) if message.is_multipart() else []
    listed = [a for a in attachments if a["content_type"] != "message/rfc822"]
    if listed:
        names = ", ".join(f"{a['filename'] or 'unnamed'} ({a['content_type']}, {a['size']} bytes)" for a in listed)
        text = f"{text}\n\n[attachments: {names}]".strip()
    match = TICKET_REF_RE.search(subject)
    outgoing = bool(account_id) and mail == account_id.strip().lower()
    return InboundItem(
        platform=PLATFORM,
        event_key=message_id,
        external_id=message_id,
        kind="mail",
        direction=OUT if outgoing else IN,
        text=text,
        subject=subject,
        author=Author(external_id=mail, name=_raw_header_text(address.display_name or ""), email=mail),
        created_at=created,
        parent_external_id=in_reply_to[-1] if in_reply_to else "",
        references=references,
        conversation_key=f"mail:{references[0] if references else message_id}",
        is_public=False,
        ticket_reference=int(match.group(1)) if match else None,
        ignore_reason="An automatic reply or delivery report." if _is_automatic(envelope) else "",
        raw=clean_tree({
            "headers": {k: str(v)[:1000] for k, v in list(envelope.items())[:60]},
            "attachments": attachments,
            "certified": bool(inner),
        }),
    )
