"""One publisher per network: how a reply leaves the building (PROTOCOLS.md "Publish").

Publishers build requests, talk HTTP (http.client, always with a timeout) or SMTP, and classify
what came back; they never touch the database. Every failure is one of three kinds:

- retryable: the reply was certainly not posted (connection refused, 5xx, 429), try again later;
- permanent: the network refused it (4xx), a person must look ("needs attention");
- unknown: the request may have been posted (timeout or broken connection after sending, a
  gateway timeout): before trying again the network is searched for it (`find_published`), or,
  where that is impossible, a person checks. Replies are never blindly posted twice.

No network honours an idempotency key, hence the lookups. E-mail derives its Message-ID from
the outbox key, but mail servers do not deduplicate by it: a second send is a second mail in the
customer's inbox, and a mail already sent cannot be looked up, so an unknown SMTP outcome is
parked for a person. Only a failure to connect is certain to have sent nothing.
"""

import html
import http.client
import json
import re
import smtplib
from dataclasses import dataclass, field
from email.utils import parseaddr
from urllib.parse import quote, urlencode, urlsplit

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from apps.tickets.models import Channel

USER_AGENT = "caretickets/1.0 (+reply publisher)"
MAX_RESPONSE_BYTES = 1_048_576
RESPONSE_EXCERPT_CHARS = 2000

PUBLIC_REPLY = "public_reply"
DIRECT_MESSAGE = "direct_message"
PRIVATE_REPLY = "private_reply"
EMAIL = "email"


class PublishError(Exception):
    RETRYABLE = "retryable"
    PERMANENT = "permanent"
    UNKNOWN = "unknown"

    def __init__(self, message: str, *, kind: str, http_status: int | None = None,
                 retry_after: int | None = None, response: dict | None = None):
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.http_status = http_status
        self.retry_after = retry_after
        self.response = response or {}


class LookupUnavailable(Exception):
    """The network offers no way to find an earlier post of this kind: a person must check."""


class Unsupported(Exception):
    """The network (or this kind of delivery on it) cannot do what was asked."""


@dataclass
class OutgoingRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    json: dict | None = None
    text: str | None = None
    secret_headers: dict[str, str] = field(default_factory=dict)

    def recordable(self) -> dict:
        """The request as a person may see it: credentials are never part of it."""
        out = {"method": self.method, "url": self.url, "headers": dict(self.headers)}
        if self.json is not None:
            out["json"] = self.json
        if self.text is not None:
            out["body"] = self.text
        if self.secret_headers:
            out["headers"].update(dict.fromkeys(self.secret_headers, "(secret, not shown)"))
        return out


@dataclass(frozen=True)
class PublishJob:
    """Everything a publisher needs about one reply, read from the database beforehand."""

    text: str
    delivery: str
    idempotency_key: str
    target_id: str = ""
    target_parent_id: str = ""
    recipient: str = ""
    subject: str = ""
    references: tuple[str, ...] = ()
    known_ids: frozenset = frozenset()


@dataclass
class PublishResult:
    external_id: str
    request: dict
    http_status: int | None = None
    response: dict = field(default_factory=dict)


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError):
            return None

    def excerpt(self) -> dict:
        data = self.json()
        if data is not None:
            text = json.dumps(data, ensure_ascii=False)
            if len(text) <= RESPONSE_EXCERPT_CHARS:
                return {"status": self.status, "json": data}
            return {"status": self.status, "text": text[:RESPONSE_EXCERPT_CHARS]}
        return {"status": self.status,
                "text": self.body[:RESPONSE_EXCERPT_CHARS].decode("utf-8", "replace")}


def publish_timeout() -> float:
    return float(getattr(settings, "REPLIES_PUBLISH_TIMEOUT", 15))


def http_send(request: OutgoingRequest, *, timeout: float) -> HttpResponse:
    """Send one request; raise PublishError saying whether it may have reached the network."""
    parts = urlsplit(request.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PublishError(f"Not an http(s) address: {request.url}", kind=PublishError.PERMANENT)
    conn_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = conn_class(parts.hostname, parts.port, timeout=timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    body = None
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **request.headers,
               **request.secret_headers}
    if request.json is not None:
        body = json.dumps(request.json).encode("utf-8")
        headers["Content-Type"] = "application/json"
    try:
        conn.connect()
    except OSError as exc:
        conn.close()
        # Nothing was sent: trying again cannot post twice.
        raise PublishError(f"Could not connect to {parts.hostname}: {exc}", kind=PublishError.RETRYABLE)
    try:
        conn.request(request.method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read(MAX_RESPONSE_BYTES)
        return HttpResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    except TimeoutError:
        raise PublishError(
            f"No answer from {parts.hostname} within {timeout:g} s: it may or may not have been posted",
            kind=PublishError.UNKNOWN,
        )
    except (http.client.HTTPException, OSError) as exc:
        raise PublishError(
            f"The connection to {parts.hostname} broke ({exc}): it may or may not have been posted",
            kind=PublishError.UNKNOWN,
        )
    finally:
        conn.close()


def _retry_after(headers: dict) -> int | None:
    value = headers.get("retry-after", "")
    return int(value) if value.isdigit() else None


def raise_for_status(resp: HttpResponse, *, network: str) -> None:
    """Classify a non-2xx answer.

    500, 502 and 504 come from behind the front door: the platform may have stored the post
    before failing (X is known to answer 500 after creating the post), so the outcome is
    unknown and the next attempt first looks for the post. 503, 429 and 408 are refusals at the
    door and retry; other 4xx stop."""
    if 200 <= resp.status < 300:
        return
    excerpt = resp.excerpt()
    detail = _error_detail(resp)
    if resp.status in (500, 502, 504):
        raise PublishError(
            f"{network} answered {resp.status}: it may or may not have been posted. {detail}",
            kind=PublishError.UNKNOWN, http_status=resp.status, response=excerpt,
        )
    if resp.status >= 500 or resp.status in (408, 429):
        raise PublishError(
            f"{network} answered {resp.status}. {detail}", kind=PublishError.RETRYABLE,
            http_status=resp.status, retry_after=_retry_after(resp.headers), response=excerpt,
        )
    raise PublishError(
        f"{network} refused the reply ({resp.status}). {detail}", kind=PublishError.PERMANENT,
        http_status=resp.status, response=excerpt,
    )


def _error_detail(resp: HttpResponse) -> str:
    data = resp.json()
    if isinstance(data, dict):
        for path in (("error", "message"), ("detail",), ("title",), ("message",), ("errors", 0, "message")):
            value = data
            for key in path:
                if isinstance(value, dict):
                    value = value.get(key)
                elif isinstance(value, list) and isinstance(key, int) and len(value) > key:
                    value = value[key]
                else:
                    value = None
            if isinstance(value, str) and value:
                return value[:300]
    return resp.body[:200].decode("utf-8", "replace")


_URL_RE = re.compile(r"https?://\S+")


def same_text(a: str, b: str) -> bool:
    """Networks escape entities and shorten links: compare what a reader would see."""

    def norm(s: str) -> str:
        s = _URL_RE.sub("", html.unescape(s or ""))
        return " ".join(s.split()).casefold()

    return norm(a) == norm(b)


class Publisher:
    network = ""
    default_base_url = ""
    deliveries: frozenset = frozenset()

    def __init__(self, channel: Channel):
        self.channel = channel
        self.base_url = (channel.api_base_url or self.default_base_url).rstrip("/")

    def _auth(self) -> dict[str, str]:
        token = self.channel.secret("access_token")
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _request(self, method: str, path: str, body: dict | None = None, query: dict | None = None,
                 headers: dict | None = None) -> OutgoingRequest:
        url = f"{self.base_url}{path}"
        if query:
            url += "?" + urlencode(query)
        return OutgoingRequest(method=method, url=url, headers=dict(headers or {}), json=body,
                               secret_headers=self._auth())

    def build(self, job: PublishJob) -> OutgoingRequest:
        raise NotImplementedError

    def parse_id(self, resp: HttpResponse) -> str:
        raise NotImplementedError

    def publish(self, job: PublishJob, *, timeout: float) -> PublishResult:
        """Post the reply; the platform's id of the new post, or a classified PublishError."""
        request = self.build(job)
        resp = http_send(request, timeout=timeout)
        raise_for_status(resp, network=self.network)
        external_id = self.parse_id(resp)
        if not external_id:
            raise PublishError(
                f"{self.network} accepted the reply but its answer carried no id.",
                kind=PublishError.UNKNOWN, http_status=resp.status, response=resp.excerpt(),
            )
        return PublishResult(external_id=str(external_id), request=request.recordable(),
                             http_status=resp.status, response=resp.excerpt())

    def find_published(self, job: PublishJob, *, timeout: float) -> str | None:
        """The id of an earlier post of this reply on the network, or None when there is none."""
        raise LookupUnavailable(f"{self.network} offers no way to look this reply up.")

    def _get_json(self, request: OutgoingRequest, *, timeout: float):
        resp = http_send(request, timeout=timeout)
        raise_for_status(resp, network=self.network)
        data = resp.json()
        if data is None:
            raise PublishError(f"{self.network} answered the lookup with no JSON.",
                               kind=PublishError.RETRYABLE, http_status=resp.status)
        return data

    def hide_request(self, external_id: str) -> OutgoingRequest:
        raise Unsupported(f"{self.network} does not let a brand hide a comment.")

    def hide(self, external_id: str, *, timeout: float) -> dict:
        request = self.hide_request(external_id)
        resp = http_send(request, timeout=timeout)
        raise_for_status(resp, network=self.network)
        return resp.excerpt()


class XPublisher(Publisher):
    network = "X"
    default_base_url = "https://api.x.com"
    deliveries = frozenset({PUBLIC_REPLY, DIRECT_MESSAGE})

    def build(self, job):
        if job.delivery == PUBLIC_REPLY:
            return self._request("POST", "/2/tweets", {
                "text": job.text, "reply": {"in_reply_to_tweet_id": job.target_id},
            })
        if job.delivery == DIRECT_MESSAGE:
            return self._request(
                "POST", f"/2/dm_conversations/with/{quote(job.recipient, safe='')}/messages",
                {"text": job.text},
            )
        raise Unsupported(f"X cannot deliver {job.delivery}.")

    def parse_id(self, resp):
        data = (resp.json() or {}).get("data") or {}
        return data.get("id") or data.get("dm_event_id") or ""

    def find_published(self, job, *, timeout):
        account = self.channel.account_id
        if not account:
            raise LookupUnavailable("The X channel has no account id to look replies up with.")
        if job.delivery == PUBLIC_REPLY:
            data = self._get_json(self._request(
                "GET", f"/2/users/{quote(account, safe='')}/tweets",
                query={"max_results": 50, "tweet.fields": "referenced_tweets,created_at"},
            ), timeout=timeout)
            for tweet in data.get("data") or []:
                refs = tweet.get("referenced_tweets")
                replies_to_target = refs is None or any(
                    r.get("type") == "replied_to" and r.get("id") == job.target_id for r in refs
                )
                if (tweet.get("id") not in job.known_ids and replies_to_target
                        and same_text(tweet.get("text", ""), job.text)):
                    return tweet["id"]
            return None
        data = self._get_json(self._request(
            "GET", f"/2/dm_conversations/with/{quote(job.recipient, safe='')}/dm_events",
            query={"max_results": 50, "dm_event.fields": "sender_id,text"},
        ), timeout=timeout)
        for event in data.get("data") or []:
            if (event.get("id") not in job.known_ids and event.get("sender_id") == account
                    and same_text(event.get("text", ""), job.text)):
                return event["id"]
        return None

    def hide_request(self, external_id):
        return self._request("PUT", f"/2/tweets/{quote(external_id, safe='')}/hidden", {"hidden": True})


class FacebookPublisher(Publisher):
    network = "Facebook"
    default_base_url = "https://graph.facebook.com/v19.0"
    deliveries = frozenset({PUBLIC_REPLY, PRIVATE_REPLY, DIRECT_MESSAGE})

    def build(self, job):
        if job.delivery == PUBLIC_REPLY:
            return self._request("POST", f"/{quote(job.target_id, safe='_')}/comments",
                                 {"message": job.text})
        page = quote(self.channel.account_id, safe="")
        if job.delivery == PRIVATE_REPLY:
            return self._request("POST", f"/{page}/messages", {
                "recipient": {"comment_id": job.target_id}, "message": {"text": job.text},
            })
        if job.delivery == DIRECT_MESSAGE:
            return self._request("POST", f"/{page}/messages", {
                "recipient": {"id": job.recipient}, "messaging_type": "RESPONSE",
                "message": {"text": job.text},
            })
        raise Unsupported(f"Facebook cannot deliver {job.delivery}.")

    def parse_id(self, resp):
        data = resp.json() or {}
        return data.get("id") or data.get("message_id") or ""

    def find_published(self, job, *, timeout):
        if job.delivery != PUBLIC_REPLY:
            raise LookupUnavailable("Facebook private messages cannot be looked up.")
        data = self._get_json(self._request(
            "GET", f"/{quote(job.target_id, safe='_')}/comments",
            query={"fields": "id,message,from", "order": "reverse_chronological", "limit": 50},
        ), timeout=timeout)
        for comment in data.get("data") or []:
            author = (comment.get("from") or {}).get("id")
            if (comment.get("id") not in job.known_ids
                    and author in (None, self.channel.account_id)
                    and same_text(comment.get("message", ""), job.text)):
                return comment["id"]
        return None

    def hide_request(self, external_id):
        return self._request("POST", f"/{quote(external_id, safe='_')}", {"is_hidden": True})


class InstagramPublisher(Publisher):
    network = "Instagram"
    default_base_url = "https://graph.facebook.com/v19.0"
    deliveries = frozenset({PUBLIC_REPLY, DIRECT_MESSAGE})

    def build(self, job):
        if job.delivery == PUBLIC_REPLY:
            return self._request("POST", f"/{quote(job.target_id, safe='_')}/replies",
                                 {"message": job.text})
        if job.delivery == DIRECT_MESSAGE:
            return self._request("POST", f"/{quote(self.channel.account_id, safe='')}/messages", {
                "recipient": {"id": job.recipient}, "message": {"text": job.text},
            })
        raise Unsupported(f"Instagram cannot deliver {job.delivery}.")

    def parse_id(self, resp):
        data = resp.json() or {}
        return data.get("id") or data.get("message_id") or ""

    def find_published(self, job, *, timeout):
        if job.delivery != PUBLIC_REPLY:
            raise LookupUnavailable("Instagram direct messages cannot be looked up.")
        data = self._get_json(self._request(
            "GET", f"/{quote(job.target_id, safe='_')}/replies",
            query={"fields": "id,text,username", "limit": 50},
        ), timeout=timeout)
        own = self.channel.config.get("username")
        for comment in data.get("data") or []:
            if (comment.get("id") not in job.known_ids
                    and (not own or comment.get("username") in (None, own))
                    and same_text(comment.get("text", ""), job.text)):
                return comment["id"]
        return None

    def hide_request(self, external_id):
        return self._request("POST", f"/{quote(external_id, safe='_')}", {"hide": True})


_LI_COMMENT_RE = re.compile(r"^urn:li:comment:\((urn:li:[a-zA-Z]+:[^,]+),")


class LinkedInPublisher(Publisher):
    network = "LinkedIn"
    default_base_url = "https://api.linkedin.com"
    deliveries = frozenset({PUBLIC_REPLY})

    def _li_headers(self) -> dict:
        return {"LinkedIn-Version": str(self.channel.config.get("linkedin_version", "202405")),
                "X-Restli-Protocol-Version": "2.0.0"}

    def _post_urn(self, job: PublishJob) -> str:
        m = _LI_COMMENT_RE.match(job.target_id)
        return job.target_parent_id or (m.group(1) if m else job.target_id)

    def build(self, job):
        if job.delivery != PUBLIC_REPLY:
            raise Unsupported("LinkedIn replies can only be public comments.")
        body = {"actor": self.channel.account_id, "object": self._post_urn(job),
                "message": {"text": job.text}}
        if job.target_id.startswith("urn:li:comment:"):
            body["parentComment"] = job.target_id
        return self._request("POST", f"/rest/socialActions/{quote(job.target_id, safe='')}/comments",
                             body, headers=self._li_headers())

    def parse_id(self, resp):
        data = resp.json() or {}
        return (resp.headers.get("x-restli-id") or data.get("commentUrn") or data.get("$URN")
                or data.get("id") or "")

    def find_published(self, job, *, timeout):
        data = self._get_json(self._request(
            "GET", f"/rest/socialActions/{quote(job.target_id, safe='')}/comments",
            query={"count": 50}, headers=self._li_headers(),
        ), timeout=timeout)
        for comment in data.get("elements") or []:
            ident = comment.get("commentUrn") or comment.get("$URN") or comment.get("id")
            text = (comment.get("message") or {}).get("text", "")
            if (ident and ident not in job.known_ids
                    and comment.get("actor") in (None, self.channel.account_id)
                    and same_text(text, job.text)):
                return ident
        return None


def angle_id(value: str) -> str:
    """A Message-ID as it appears in headers, whether or not it was stored with its brackets."""
    value = value.strip()
    return value if value.startswith("<") else f"<{value}>"


class EmailPublisher(Publisher):
    """SMTP through Django's mail; the Message-ID comes from the outbox key, so answers thread
    back. SMTP has no idempotency: after an unknown outcome a person checks before a resend."""

    network = "E-mail"
    deliveries = frozenset({EMAIL})

    def from_address(self) -> str:
        account = self.channel.account_id
        return account if "@" in account else settings.DEFAULT_FROM_EMAIL

    def message_id(self, job: PublishJob) -> str:
        return self.message_id_for(job.idempotency_key)

    def message_id_for(self, idempotency_key: str) -> str:
        domain = parseaddr(self.from_address())[1].rpartition("@")[2] or "caretickets.local"
        return f"<{idempotency_key}@{domain}>"

    def find_published(self, job, *, timeout):
        raise LookupUnavailable(
            "a mail server cannot be asked whether it accepted a mail, and it would deliver a second "
            "copy: look in the mailbox's sent mail or the mail server's log"
        )

    def _headers(self, job: PublishJob) -> dict[str, str]:
        headers = {"From": self.from_address(), "To": job.recipient, "Subject": job.subject,
                   "Message-ID": self.message_id(job)}
        if job.target_id:
            headers["In-Reply-To"] = angle_id(job.target_id)
        if job.references:
            headers["References"] = " ".join(angle_id(r) for r in job.references)
        return headers

    def build(self, job):
        if job.delivery != EMAIL:
            raise Unsupported("A mailbox can only send e-mail.")
        host = self.channel.config.get("smtp_host", "")
        return OutgoingRequest(method="SMTP", url=f"smtp://{host or 'default'}",
                               headers=self._headers(job), text=job.text)

    def _connection(self, timeout: float):
        config = self.channel.config
        if config.get("smtp_host"):
            return get_connection(
                "django.core.mail.backends.smtp.EmailBackend", host=config["smtp_host"],
                port=int(config.get("smtp_port", 587)), username=self.channel.secret("smtp_user"),
                password=self.channel.secret("smtp_password"),
                use_tls=bool(config.get("smtp_use_tls", True)), timeout=timeout,
            )
        return get_connection(timeout=timeout)

    def publish(self, job, *, timeout):
        request = self.build(job)
        headers = self._headers(job)
        connection = self._connection(timeout)
        try:
            connection.open()
        except (smtplib.SMTPException, OSError) as exc:
            # Nothing was handed over before the session was up: trying again cannot send twice.
            raise PublishError(f"Could not connect to the mail server: {exc}", kind=PublishError.RETRYABLE)
        message = EmailMessage(
            subject=job.subject, body=job.text, from_email=headers.pop("From"),
            to=[headers.pop("To")], connection=connection,
            headers={k: v for k, v in headers.items() if k != "Subject"},
        )
        try:
            message.send(fail_silently=False)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
            raise PublishError(f"The mail server refused the message: {exc}", kind=PublishError.PERMANENT)
        except smtplib.SMTPConnectError as exc:
            raise PublishError(f"Could not connect to the mail server: {exc}", kind=PublishError.RETRYABLE)
        except smtplib.SMTPResponseException as exc:
            kind = PublishError.PERMANENT if exc.smtp_code >= 500 else PublishError.RETRYABLE
            raise PublishError(f"The mail server answered {exc.smtp_code}: {exc.smtp_error!r}", kind=kind)
        except (smtplib.SMTPException, OSError) as exc:
            raise PublishError(f"Sending the mail broke off: {exc}", kind=PublishError.UNKNOWN)
        finally:
            connection.close()
        return PublishResult(external_id=self.message_id(job), request=request.recordable())


PUBLISHERS: dict[str, type[Publisher]] = {
    Channel.Kind.X: XPublisher,
    Channel.Kind.FACEBOOK: FacebookPublisher,
    Channel.Kind.INSTAGRAM: InstagramPublisher,
    Channel.Kind.LINKEDIN: LinkedInPublisher,
    Channel.Kind.EMAIL: EmailPublisher,
    Channel.Kind.CERTIFIED_EMAIL: EmailPublisher,
}


def publisher_for(channel: Channel) -> Publisher:
    try:
        return PUBLISHERS[channel.kind](channel)
    except KeyError:
        raise Unsupported(f"Replies cannot be published on {channel.get_kind_display()} channels.")
