"""A fake X / Meta / LinkedIn API on 127.0.0.1 for publishing tests.

It stores what it is sent, answers like the platform (ids, lookups), and can be told to answer
the next writes with a 5xx, a 4xx, a 429, or to hang (before or after "posting").
"""

import itertools
import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    method: str
    path: str
    headers: dict
    body: dict | None


@dataclass
class FakePlatform:
    account_id: str = "brand-1"
    hang_seconds: float = 3.0
    requests: list[Received] = field(default_factory=list)
    posts: list[dict] = field(default_factory=list)
    script: deque = field(default_factory=deque)
    lookup_mode: str = "ok"
    write_delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1000))

    url: str = ""

    @property
    def writes(self) -> list[Received]:
        return [r for r in self.requests if r.method in ("POST", "PUT")]

    def answer_next(self, *modes: str) -> None:
        """Queue how the next writes are answered: "ok", "500", "503", "504", "400", "403",
        "429", "hang" (nothing posted, no answer), "post_then_hang" (posted, no answer),
        "post_then_500" (posted, then a 500)."""
        self.script.extend(modes)


def _handler(platform: FakePlatform):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _body(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                return json.loads(raw) if raw else None
            except ValueError:
                return {"_raw": raw.decode("utf-8", "replace")}

        def _send(self, status: int, payload, headers: dict | None = None):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _hang(self):
            platform.stop.wait(platform.hang_seconds)

        def do_GET(self):
            with platform.lock:
                platform.requests.append(Received("GET", self.path, dict(self.headers), None))
            if platform.lookup_mode == "500":
                return self._send(500, {"title": "lookup broken"})
            path = self.path.split("?", 1)[0]
            posts = list(platform.posts)
            if m := re.fullmatch(r"/2/users/([^/]+)/tweets", path):
                data = [{"id": p["id"], "text": p["text"],
                         "referenced_tweets": [{"type": "replied_to", "id": p["target"]}]}
                        for p in reversed(posts) if p["kind"] == "tweet" and m.group(1) == platform.account_id]
                return self._send(200, {"data": data, "meta": {"result_count": len(data)}})
            if m := re.fullmatch(r"/2/dm_conversations/with/([^/]+)/dm_events", path):
                data = [{"id": p["id"], "text": p["text"], "sender_id": platform.account_id}
                        for p in reversed(posts) if p["kind"] == "dm" and p["target"] == m.group(1)]
                return self._send(200, {"data": data})
            if m := re.fullmatch(r"/([^/]+)/(comments|replies)", path):
                data = [{"id": p["id"], "message": p["text"], "text": p["text"],
                         "from": {"id": platform.account_id}}
                        for p in reversed(posts) if p["kind"] == m.group(2) and p["target"] == m.group(1)]
                return self._send(200, {"data": data})
            if m := re.fullmatch(r"/rest/socialActions/([^/]+)/comments", path):
                from urllib.parse import unquote

                target = unquote(m.group(1))
                data = [{"commentUrn": p["id"], "actor": platform.account_id, "message": {"text": p["text"]}}
                        for p in reversed(posts) if p["kind"] == "li" and p["target"] == target]
                return self._send(200, {"elements": data})
            return self._send(404, {"error": {"message": "unknown lookup"}})

        def _write(self, method: str):
            body = self._body()
            with platform.lock:
                platform.requests.append(Received(method, self.path, dict(self.headers), body))
                mode = platform.script.popleft() if platform.script else "ok"
            if platform.write_delay:
                platform.stop.wait(platform.write_delay)
            if mode == "hang":
                return self._hang()
            if mode in ("500", "503"):
                return self._send(int(mode), {"title": "Service Unavailable"})
            if mode == "504":
                return self._send(504, {"title": "Gateway Timeout"})
            if mode == "429":
                return self._send(429, {"title": "Too Many Requests"}, {"Retry-After": "7"})
            if mode in ("400", "403"):
                return self._send(int(mode), {"error": {"message": "Invalid reply target"}})
            status, payload, headers = self._store(method, body)
            if mode == "post_then_hang":
                return self._hang()
            if mode == "post_then_500":
                return self._send(500, {"title": "oops"})
            return self._send(status, payload, headers)

        def _store(self, method, body):
            path = self.path.split("?", 1)[0]
            new_id = str(next(platform.ids))
            body = body or {}

            def keep(kind, target, text):
                with platform.lock:
                    platform.posts.append({"id": new_id, "kind": kind, "target": target, "text": text})

            if path == "/2/tweets":
                keep("tweet", (body.get("reply") or {}).get("in_reply_to_tweet_id"), body.get("text"))
                return 201, {"data": {"id": new_id, "text": body.get("text")}}, {}
            if m := re.fullmatch(r"/2/dm_conversations/with/([^/]+)/messages", path):
                keep("dm", m.group(1), body.get("text"))
                return 201, {"data": {"dm_conversation_id": "c1", "dm_event_id": new_id}}, {}
            if m := re.fullmatch(r"/2/tweets/([^/]+)/hidden", path):
                return 200, {"data": {"hidden": True}}, {}
            if m := re.fullmatch(r"/rest/socialActions/([^/]+)/comments", path):
                from urllib.parse import unquote

                urn = f"urn:li:comment:(urn:li:activity:1,{new_id})"
                with platform.lock:
                    platform.posts.append({"id": urn, "kind": "li", "target": unquote(m.group(1)),
                                           "text": (body.get("message") or {}).get("text")})
                return 201, {}, {"x-restli-id": urn}
            if m := re.fullmatch(r"/([^/]+)/(comments|replies)", path):
                keep(m.group(2), m.group(1), body.get("message"))
                return 200, {"id": new_id}, {}
            if m := re.fullmatch(r"/([^/]+)/messages", path):
                keep("message", json.dumps(body.get("recipient")), (body.get("message") or {}).get("text"))
                return 200, {"recipient_id": "r1", "message_id": f"m_{new_id}"}, {}
            if re.fullmatch(r"/([^/]+)", path):
                return 200, {"success": True}, {}
            return 404, {"error": {"message": "unknown endpoint"}}, {}

        def do_POST(self):
            self._write("POST")

        def do_PUT(self):
            self._write("PUT")

    return Handler


def start(platform: FakePlatform) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(platform))
    server.daemon_threads = True
    platform.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server
