"""Settings for `bench/ingest.py`: production settings, plus the reference views' URLs."""

from caretickets.settings.prod import *  # noqa: F403

ROOT_URLCONF = "bench.ingest_urls"
