"""The queue's counters must not read ticket rows: every filter it offers is in its index."""

import pytest
from django.db import connection

from apps.workspace.forms import QueueFilterForm

INDEX = "workspace_ticket_active_queue"
# The column each filter of the queue reads; `q` (full text) has its own index.
FILTER_COLUMNS = {
    "view": {"assignee_id", "team_id"}, "state": {"state"}, "channel": {"channel_id"},
    "priority": {"priority"}, "intent": {"intent"}, "language": {"language"},
    "sentiment": {"sentiment"}, "team": {"team_id"}, "department": {"department_id"},
    "sla": {"sla_due"}, "q": set(),
}


def _index_columns() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE c.relname = %s",
            [INDEX],
        )
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.postgres
@pytest.mark.django_db
def test_every_queue_filter_is_counted_from_the_active_ticket_index():
    form_fields = set(QueueFilterForm(user=None).fields)
    assert form_fields == set(FILTER_COLUMNS), "a new queue filter: add its column to the index"
    needed = set().union(*FILTER_COLUMNS.values()) | {"confidential"}  # the visibility rule
    assert needed - _index_columns() == set()
