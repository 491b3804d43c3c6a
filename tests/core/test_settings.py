import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_prod(**env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    environment.update(env)
    environment["DJANGO_SETTINGS_MODULE"] = "caretickets.settings.prod"
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"DJANGO_DEBUG": "true", "DJANGO_SECRET_KEY": "x" * 50}, "DJANGO_DEBUG"),
        ({}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_SECRET_KEY": "short"}, "DJANGO_SECRET_KEY"),
    ],
)
def test_production_refuses_unsafe_configuration(env, complaint):
    result = _load_prod(**env)
    assert result.returncode != 0
    assert complaint in result.stderr
    assert "started" not in result.stdout


def test_production_starts_with_a_real_secret():
    result = _load_prod(DJANGO_SECRET_KEY="k3y-" + "a1b2c3d4" * 8)
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_sqlite_runs_in_wal_mode(db, settings):
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        mode = cursor.fetchone()[0]
    # The in-memory test database cannot use WAL; the option must at least be configured.
    assert mode in ("wal", "memory")
    assert "journal_mode=WAL" in settings.DATABASES["default"]["OPTIONS"]["init_command"]


def test_embedded_broker_needs_no_server(settings):
    import os

    if os.environ.get("CELERY_BROKER_URL"):
        pytest.skip("a broker URL is configured")
    assert settings.CELERY_BROKER_URL == "filesystem://"
    assert "var" in settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
