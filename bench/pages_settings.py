"""Settings for `bench/pages.py`: the application as deployed, plus the framework floor's URL.

Production-like: DEBUG off, cached templates, a shared Redis cache (presence lives there), no
request logging. The floor view and its template exist only here, never in the application.
"""

from caretickets.settings.base import *  # noqa: F403
from caretickets.settings.base import BASE_DIR, TEMPLATES, env

DEBUG = False
ROOT_URLCONF = "bench.pages_urls"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
TEMPLATES[0]["DIRS"] = [*TEMPLATES[0]["DIRS"], BASE_DIR / "bench" / "templates"]
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env("BENCH_CACHE_URL", default="redis://127.0.0.1:6379/3"),
    }
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
