import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _english():
    """Service messages are checked in English; a request earlier in this thread may have
    activated another language (the user's preference) and left it active."""
    with translation.override("en"):
        yield
