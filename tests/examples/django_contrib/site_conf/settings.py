"""Settings of the project that tests gjobs.contrib.django: SQLite, the queue from the
environment, and the dashboard at /admin/gjobs/ for staff users (site_conf/urls.py)."""

import os

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["NOTES_DB"], "CONN_MAX_AGE": 0}}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = ["gjobs.contrib.django", "notes"]
GJOBS = {
    "url": os.environ["REDIS_URL"],
    "prefix": os.environ["GJOBS_PREFIX"],
    "worker": {"concurrency": 1, "heartbeat_interval": 0.5},
}

# The dashboard's URL is guarded by Django's own auth (staff_member_required), as a project's is.
INSTALLED_APPS += [
    "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
    "django.contrib.messages",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "site_conf.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request", "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
