"""ingest_jsonl (X API v2 backfill) and ingest_mail (IMAP, mbox, .eml)."""

import imaplib
import mailbox
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.social.models import InboundEvent
from apps.tickets.models import Message, Ticket
from tests.social.conftest import FIXTURES, fixture_bytes

pytestmark = pytest.mark.django_db


def run(*args, capture):
    out, err = StringIO(), StringIO()
    with capture(execute=True):
        call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_ingest_jsonl_backfills_and_replays_safely(channels, django_capture_on_commit_callbacks):
    path = str(FIXTURES / "x_v2.jsonl")
    out, err = run("ingest_jsonl", path, "--channel", "demo-x", capture=django_capture_on_commit_callbacks)
    assert "3 new, 0 already imported, 2 lines invalid" in out
    assert "line 5:" in err and "line 6:" in err
    ticket = Ticket.objects.get()
    assert ticket.customer.display_name == "Emma Walsh" and ticket.intent == "mis_selling"
    assert [m.external_id for m in ticket.messages.all()] == ["1790000000000000701", "1790000000000000702"]
    assert InboundEvent.objects.filter(status="ignored").count() == 1  # the retweet
    out, _err = run("ingest_jsonl", path, "--channel", "demo-x", capture=django_capture_on_commit_callbacks)
    assert "0 new, 3 already imported" in out
    assert Message.objects.count() == 2


def test_an_unforeseen_failure_on_one_line_or_mail_skips_it_and_goes_on(
    channels, monkeypatch, django_capture_on_commit_callbacks
):
    from apps.social.management.commands import ingest_jsonl, ingest_mail

    def fragile(parse):
        def parse_or_fail(source, body, **kwargs):
            if body.startswith(b"{\"data\": {\"id\": \"1790000000000000701\"") or b"html-only" in body:
                raise RecursionError("a shape nobody foresaw")
            return parse(source, body, **kwargs)
        return parse_or_fail

    monkeypatch.setattr(ingest_jsonl, "parse_delivery", fragile(ingest_jsonl.parse_delivery))
    monkeypatch.setattr(ingest_mail, "parse_delivery", fragile(ingest_mail.parse_delivery))
    out, err = run("ingest_jsonl", str(FIXTURES / "x_v2.jsonl"), "--channel", "demo-x",
                   capture=django_capture_on_commit_callbacks)
    assert "2 new, 0 already imported, 3 lines invalid" in out
    assert "line 1: could not be read (RecursionError)" in err
    files = [str(FIXTURES / name) for name in ("email_html_only.eml", "email_plain.eml")]
    out, err = run("ingest_mail", "--channel", "demo-email", "--eml", *files,
                   capture=django_capture_on_commit_callbacks)
    assert "1 new, 0 already ingested, 1 skipped" in out
    assert "email_html_only.eml: could not be read (RecursionError)" in err
    assert not Message.objects.filter(external_id__in=["1790000000000000701",
                                                        "<0102018e.html-only.4411@email.example.nl>"]).exists()


def test_ingest_jsonl_refuses_unknown_channel_or_file(channels):
    with pytest.raises(CommandError):
        call_command("ingest_jsonl", str(FIXTURES / "x_v2.jsonl"), "--channel", "demo-facebook")
    with pytest.raises(CommandError):
        call_command("ingest_jsonl", "/nonexistent.jsonl", "--channel", "demo-x")


def test_ingest_mail_from_eml_files(channels, django_capture_on_commit_callbacks):
    files = [str(FIXTURES / name) for name in ("email_plain.eml", "email_html_only.eml")]
    out, _err = run("ingest_mail", "--channel", "demo-email", "--eml", *files,
                    capture=django_capture_on_commit_callbacks)
    assert "2 new" in out
    assert Ticket.objects.count() == 2
    html = Message.objects.get(external_id="<0102018e.html-only.4411@email.example.nl>")
    assert "foutmelding" in html.body and "<p>" not in html.body


def nested_mime(depth: int) -> bytes:
    parts = [b"From: mario@example.it\r\nMessage-ID: <nested@example.it>\r\n"]
    parts += [b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i) for i in range(depth)]
    return b"".join([*parts, b"Content-Type: text/plain\r\n\r\nCiao\r\n"])


def test_ingest_mail_skips_a_message_nested_too_deep_and_goes_on(
    channels, tmp_path, django_capture_on_commit_callbacks
):
    (tmp_path / "nested.eml").write_bytes(nested_mime(1500))
    files = [str(tmp_path / "nested.eml"), str(FIXTURES / "email_plain.eml")]
    out, err = run("ingest_mail", "--channel", "demo-email", "--eml", *files,
                   capture=django_capture_on_commit_callbacks)
    assert "1 new, 0 already ingested, 1 skipped" in out and "nested.eml: Not a readable" in err
    assert Ticket.objects.count() == 1


def test_ingest_mail_from_mbox(channels, tmp_path, django_capture_on_commit_callbacks):
    box = mailbox.mbox(tmp_path / "care.mbox")
    for name in ("email_plain.eml", "email_reply.eml", "email_auto_reply.eml"):
        box.add(fixture_bytes(name))
    box.add(b"From: nobody\n\nnot an address")
    box.flush()
    box.close()
    out, err = run("ingest_mail", "--channel", "demo-email", "--mbox", str(tmp_path / "care.mbox"),
                   capture=django_capture_on_commit_callbacks)
    assert "3 new, 0 already ingested, 1 skipped" in out and "care.mbox#4" in err
    assert Ticket.objects.count() == 1  # the reply threads by References; the auto-reply is ignored
    assert Ticket.objects.get().messages.count() == 2


class FakeIMAP:
    """Just enough of imaplib.IMAP4_SSL: UID SEARCH UNSEEN, FETCH, STORE."""

    instances: list = []

    def __init__(self, host, port, timeout=None):
        self.host, self.port, self.timeout = host, port, timeout
        self.messages = {b"7": fixture_bytes("email_plain.eml"), b"8": fixture_bytes("email_pec.eml")}
        self.seen: set[bytes] = set()
        FakeIMAP.instances.append(self)

    def login(self, user, password):
        if password != "s3cret":
            raise imaplib.IMAP4.error("AUTHENTICATIONFAILED")

    def select(self, folder):
        return ("OK", [b"2"]) if folder == "INBOX" else ("NO", [b"no such folder"])

    def uid(self, command, *args):
        if command == "SEARCH":
            return "OK", [b" ".join(uid for uid in self.messages if uid not in self.seen)]
        if command == "FETCH":
            uid = args[0]
            return "OK", [(uid + b" (UID " + uid + b" BODY[] {100}", self.messages[uid]), b")"]
        if command == "STORE":
            self.seen.add(args[0])
            return "OK", []
        raise AssertionError(command)

    def logout(self):
        return "BYE", []


def test_ingest_mail_from_imap_flags_what_it_stored(channels, monkeypatch, django_capture_on_commit_callbacks):
    FakeIMAP.instances.clear()
    monkeypatch.setattr(imaplib, "IMAP4_SSL", FakeIMAP)
    monkeypatch.setenv("IMAP_PASSWORD", "s3cret")
    out, _err = run("ingest_mail", "--channel", "demo-pec", "--imap-host", "imap.example.it",
                    "--imap-user", "reclami", capture=django_capture_on_commit_callbacks)
    assert "2 new" in out
    server = FakeIMAP.instances[0]
    assert server.seen == {b"7", b"8"} and server.timeout == 30 and server.port == 993
    assert Ticket.objects.filter(customer__email="mario.rossi@pec.it").exists()


def test_ingest_mail_imap_login_problems(channels, monkeypatch):
    monkeypatch.setattr(imaplib, "IMAP4_SSL", FakeIMAP)
    monkeypatch.delenv("IMAP_PASSWORD", raising=False)
    with pytest.raises(CommandError, match="IMAP_PASSWORD"):
        call_command("ingest_mail", "--channel", "demo-email", "--imap-host", "h", "--imap-user", "u")
    monkeypatch.setenv("IMAP_PASSWORD", "wrong")
    with pytest.raises(CommandError, match="Cannot log in"):
        call_command("ingest_mail", "--channel", "demo-email", "--imap-host", "h", "--imap-user", "u")
    with pytest.raises(CommandError, match="No e-mail channel"):
        call_command("ingest_mail", "--channel", "demo-x", "--eml", "x.eml")
