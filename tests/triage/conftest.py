import pytest

from tests.triage.rules import ensure_default_rules


@pytest.fixture(autouse=True)
def default_rules(db):
    ensure_default_rules()
