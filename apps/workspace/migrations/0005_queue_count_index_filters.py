"""The queue's covering index also holds the columns its filters read.

With only the visibility columns in migration 0004's index, a filter on channel, language,
intent, sentiment or state sent PostgreSQL to the ticket rows: "high priority on X" read the
30,000 X tickets of every state through the channel index to count 1,700 active ones (33 ms at
100,000 tickets). With these columns included, every filter the queue offers except the text
search is counted from the index of the active tickets alone.
"""

from django.db import migrations

NAME = "workspace_ticket_active_queue"
ACTIVE = "WHERE \"state\" IN ('new', 'open', 'pending_customer', 'escalated')"


def _index(schema_editor, include: str) -> None:
    schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{NAME}"')
    schema_editor.execute(
        f'CREATE INDEX CONCURRENTLY "{NAME}" ON "tickets_ticket" ("team_id", "assignee_id") '
        f"INCLUDE ({include}) {ACTIVE}"
    )


def widen(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _index(schema_editor, '"department_id", "confidential", "sla_due", "priority", "channel_id", '
                              '"language", "intent", "sentiment", "state"')


def narrow(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _index(schema_editor, '"department_id", "confidential", "sla_due", "priority"')


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("workspace", "0004_queue_count_index")]

    operations = [migrations.RunPython(widen, narrow)]
