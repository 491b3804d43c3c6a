from django.core.management.base import BaseCommand

from apps.sla.services import sla_recompute


class Command(BaseCommand):
    help = "Rebuild the SLA deadlines of open tickets from their clock events and the current policies."

    def add_arguments(self, parser):
        parser.add_argument(
            "tickets", nargs="*", type=int, metavar="TICKET_ID",
            help="Only these tickets (default: every open ticket).",
        )

    def handle(self, *args, tickets, **options):
        changed = sla_recompute(ticket_ids=tickets or None)
        self.stdout.write(self.style.SUCCESS(f"Deadlines changed on {changed} ticket(s)."))
