from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from apps.accounts.roles import ROLE_LABELS, user_roles
from apps.tickets.demo import DEMO_PASSWORD, DEMO_URL, USERS


class Command(BaseCommand):
    help = "Print the demo accounts (username, role, team or department) and where to sign in."

    def add_arguments(self, parser):
        parser.add_argument("--url", default=DEMO_URL, help="Address the web server listens on.")

    def handle(self, *args, **options):
        users = {
            u.username: u
            for u in get_user_model()
            .objects.filter(username__in=[spec.username for spec in USERS])
            .prefetch_related("groups", "teams", "departments")
        }
        rows = []
        for spec in USERS:
            user = users.get(spec.username)
            if user is None:
                continue
            role_names = sorted(user_roles(user), key=list(ROLE_LABELS).index)
            where = [t.name for t in user.teams.all()] + [d.name for d in user.departments.all()]
            if user.is_superuser and not where:
                where = ["everything (superuser)"]
            rows.append((
                user.username, user.get_full_name(), ", ".join(str(ROLE_LABELS[r]) for r in role_names),
                ", ".join(where) or "—", user.language or "—",
            ))
        if not rows:
            self.stdout.write(self.style.WARNING("No demo accounts yet: run `manage.py demo_data` first."))
            return
        header = ("Username", "Name", "Role", "Team / department", "Language")
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        line = "  ".join(f"{{:<{w}}}" for w in widths)
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"caretickets is starting on {options['url']}"))
        self.stdout.write(f"Demo accounts — every password is: {DEMO_PASSWORD}")
        self.stdout.write("")
        for row in [header, tuple("-" * w for w in widths), *rows]:
            self.stdout.write(line.format(*row).rstrip())
        self.stdout.write("")
