"""Full-text indexes for the queue search on PostgreSQL (SQLite searches with LIKE instead).

The expressions are exactly what `SearchVector(<field>, config="simple")` compiles to, so the
planner uses them for `apps.workspace.selectors._search_q`. Built concurrently: adding them to a
large live database does not block ingest.
"""

from django.db import migrations

INDEXES = {
    "workspace_message_body_fts": ("tickets_message", "body"),
    "workspace_ticket_subject_fts": ("tickets_ticket", "subject"),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, (table, column) in INDEXES.items():
        schema_editor.execute(
            f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON "{table}" '
            f"USING gin (to_tsvector('simple'::regconfig, COALESCE(\"{column}\", '')))"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("workspace", "0001_initial"),
        ("tickets", "0002_ticketevent_append_only_trigger"),
    ]

    operations = [migrations.RunPython(create, drop)]
