"""Settings of the project that tests gjobs.contrib.django: SQLite, and the queue from the
environment."""

import os

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
MIDDLEWARE = []
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["NOTES_DB"], "CONN_MAX_AGE": 0}}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = ["gjobs.contrib.django", "notes"]
GJOBS = {
    "url": os.environ["REDIS_URL"],
    "prefix": os.environ["GJOBS_PREFIX"],
    "worker": {"concurrency": 1, "heartbeat_interval": 0.5},
}
