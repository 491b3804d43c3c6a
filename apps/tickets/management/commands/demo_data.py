from django.core.management.base import BaseCommand

from apps.tickets.demo import SCENARIOS, demo_counts, demo_data_load


class Command(BaseCommand):
    help = (
        "Load the demo organisation (team, departments, channels, users with password "
        f"'caretickets') and {len(SCENARIOS)} demo tickets. Safe to run again: creates only what is "
        "missing."
    )

    def handle(self, *args, **options):
        result = demo_data_load()
        counts = demo_counts()
        if result.created:
            self.stdout.write(self.style.SUCCESS(f"Demo data: created {result.created} demo tickets."))
        else:
            self.stdout.write(f"Demo data already loaded ({result.existing} demo tickets).")
        self.stdout.write(", ".join(f"{n} {name}" for name, n in counts.items()))
