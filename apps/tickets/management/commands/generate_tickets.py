import os
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from apps.tickets.generate import generate_tickets
from apps.tickets.models import Customer, Identity, Message, Ticket, TicketEvent

TABLES = {"tickets": Ticket, "messages": Message, "events": TicketEvent, "customers": Customer,
          "identities": Identity}


class Command(BaseCommand):
    help = (
        "Bulk-create N tickets with customers, messages and audit rows in realistic proportions "
        "(benchmarks). Uses COPY on PostgreSQL."
    )

    def add_arguments(self, parser):
        parser.add_argument("n", type=int, help="How many tickets.")
        parser.add_argument("--seed", type=int, default=0, help="Random seed (same seed, same data).")
        parser.add_argument("--batch", type=int, default=5000, help="Tickets per transaction.")
        parser.add_argument("--open-only", action="store_true",
                            help="Only new, open, pending and escalated tickets.")
        parser.add_argument("--workers", type=int, default=None,
                            help="Parallel writers (PostgreSQL only; default: CPUs, at most 4).")

    def handle(self, *args, n, seed, batch, open_only, workers, **options):
        if n <= 0:
            raise CommandError("N must be a positive number of tickets.")
        if batch <= 0:
            raise CommandError("--batch must be positive.")
        # Parallel writers commit on their own connections: PostgreSQL, outside a transaction.
        parallel = connection.vendor == "postgresql" and not connection.in_atomic_block
        if workers is None:
            workers = min(4, os.cpu_count() or 1) if parallel else 1
        if workers < 1 or (workers > 1 and not parallel):
            raise CommandError("--workers above 1 needs PostgreSQL (SQLite has one writer at a time).")
        before = {name: model.objects.count() for name, model in TABLES.items()}
        started = time.perf_counter()
        first, last = generate_tickets(
            n, seed=seed, open_only=open_only, batch_size=batch, workers=workers
        )
        seconds = time.perf_counter() - started
        added = {name: model.objects.count() - before[name] for name, model in TABLES.items()}
        rows = sum(added.values())
        self.stdout.write(self.style.SUCCESS(
            f"Created tickets CT-{first:06d}…CT-{last:06d} in {seconds:.1f} s ({workers} worker(s))"
        ))
        self.stdout.write(", ".join(f"{count} {name}" for name, count in added.items()))
        self.stdout.write(f"{n / seconds:,.0f} tickets/s, {rows / seconds:,.0f} rows/s")
