"""Read e-mail from an IMAP mailbox, an mbox file or .eml files into an e-mail channel."""

import contextlib
import imaplib
import logging
import mailbox
import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.social import services
from apps.social.adapters import EMAIL, MalformedPayload, parse_delivery
from apps.social.webhooks import mail_max_bytes
from apps.tickets.models import Channel

IMAP_TIMEOUT = 30

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Ingest e-mail into an e-mail or certified e-mail channel. From IMAP: unseen messages are "
        "stored, then flagged \\Seen (the password comes from an environment variable, never the "
        "command line). From files: an mbox, or one or more .eml files. A message already ingested "
        "(same Message-ID) is skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("--channel", required=True, help="Slug of the e-mail channel.")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--imap-host", help="IMAP server host name.")
        source.add_argument("--mbox", help="Path to an mbox file.")
        source.add_argument("--eml", nargs="+", help="Paths to .eml files.")
        parser.add_argument("--imap-port", type=int, default=None)
        parser.add_argument("--imap-user", default="")
        parser.add_argument("--imap-password-env", default="IMAP_PASSWORD",
                            help="Environment variable holding the password (default IMAP_PASSWORD).")
        parser.add_argument("--imap-folder", default="INBOX")
        parser.add_argument("--no-ssl", action="store_true", help="Plain IMAP with STARTTLS.")
        parser.add_argument("--limit", type=int, default=500, help="At most this many messages per run.")

    def handle(self, *args, channel, **options):
        self.channel = Channel.objects.filter(
            slug=channel, kind__in=[Channel.Kind.EMAIL, Channel.Kind.CERTIFIED_EMAIL]
        ).first()
        if self.channel is None:
            raise CommandError(f"No e-mail channel with slug {channel!r}.")
        self.counts = {"stored": 0, "duplicates": 0, "skipped": 0}
        if options["imap_host"]:
            self._from_imap(options)
        elif options["mbox"]:
            self._from_mbox(options["mbox"], options["limit"])
        else:
            for path in options["eml"][: options["limit"]]:
                self.ingest(self._read(path), label=path)
        self.stdout.write(self.style.SUCCESS(
            "{stored} new, {duplicates} already ingested, {skipped} skipped.".format(**self.counts)
        ))

    def ingest(self, raw: bytes, *, label: str) -> bool:
        """Store one raw message; False when it cannot be read (reported, not retried)."""
        if len(raw) > mail_max_bytes():
            self.counts["skipped"] += 1
            self.stderr.write(f"{label}: larger than {mail_max_bytes()} bytes, skipped")
            return False
        try:
            items = parse_delivery(EMAIL, raw, channel_kind=self.channel.kind, account_id=self.channel.account_id)
        except MalformedPayload as exc:
            self.counts["skipped"] += 1
            self.stderr.write(f"{label}: {exc}")
            return False
        except Exception as exc:
            # A message the adapter did not foresee: reported and logged (left unseen on IMAP);
            # the other messages go on.
            logger.exception("Unreadable mail %s", label)
            self.counts["skipped"] += 1
            self.stderr.write(f"{label}: could not be read ({type(exc).__name__})")
            return False
        with transaction.atomic():
            accepted = services.inbound_delivery_store(
                channel=self.channel, source=EMAIL, body=raw, headers={"import": label[:200]}, items=items
            )
        self.counts["stored"] += accepted.accepted
        self.counts["duplicates"] += accepted.duplicates
        return True

    def _read(self, path: str) -> bytes:
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc}")

    def _from_mbox(self, path: str, limit: int) -> None:
        if not Path(path).is_file():
            raise CommandError(f"No mbox file at {path}.")
        box = mailbox.mbox(path, create=False)
        try:
            for number, key in enumerate(box.iterkeys()):
                if number >= limit:
                    break
                self.ingest(box.get_bytes(key), label=f"{path}#{number + 1}")
        finally:
            box.close()

    def _from_imap(self, options) -> None:
        password = os.environ.get(options["imap_password_env"], "")
        if not options["imap_user"] or not password:
            raise CommandError(f"Give --imap-user and set ${options['imap_password_env']}.")
        host = options["imap_host"]
        try:
            if options["no_ssl"]:
                client = imaplib.IMAP4(host, options["imap_port"] or 143, timeout=IMAP_TIMEOUT)
                client.starttls()
            else:
                client = imaplib.IMAP4_SSL(host, options["imap_port"] or 993, timeout=IMAP_TIMEOUT)
            client.login(options["imap_user"], password)
        except (OSError, imaplib.IMAP4.error) as exc:
            raise CommandError(f"Cannot log in to {host}: {exc}")
        try:
            status, _data = client.select(options["imap_folder"])
            if status != "OK":
                raise CommandError(f"No folder {options['imap_folder']!r} on {host}.")
            status, data = client.uid("SEARCH", None, "UNSEEN")
            uids = data[0].split()[: options["limit"]] if status == "OK" and data and data[0] else []
            for uid in uids:
                status, parts = client.uid("FETCH", uid, "(BODY.PEEK[])")
                raw = next((p[1] for p in parts or [] if isinstance(p, tuple) and len(p) == 2), None)
                if status != "OK" or raw is None:
                    self.counts["skipped"] += 1
                    self.stderr.write(f"IMAP uid {uid.decode()}: could not fetch")
                    continue
                self.ingest(raw, label=f"imap:{uid.decode()}")
                # Flag only once stored (or unreadable for good): a crash before leaves it unseen.
                client.uid("STORE", uid, "+FLAGS", r"(\Seen)")
        finally:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                client.logout()
