"""A covering index for the queue's view counts on PostgreSQL.

Every queue page and every 15-second poll counts the active tickets a user may see, per view
("mine", "my team's unassigned", "all"). This partial index holds exactly the active tickets
with the columns the visibility rule and the views read, so the count is an index-only scan
instead of a visit to every active ticket row. The predicate lists the open states of
`apps.tickets.models.OPEN_STATES`; SQLite counts from the table.
"""

from django.db import migrations

NAME = "workspace_ticket_active_queue"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{NAME}" ON "tickets_ticket" ("team_id", "assignee_id") '
        'INCLUDE ("department_id", "confidential", "sla_due", "priority") '
        "WHERE \"state\" IN ('new', 'open', 'pending_customer', 'escalated')"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{NAME}"')


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("workspace", "0003_default_canned_replies")]

    operations = [migrations.RunPython(create, drop)]
