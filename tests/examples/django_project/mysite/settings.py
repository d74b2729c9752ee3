"""Settings of the Django example: the least Django needs, plus where gjobs finds Redis."""

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["shop"]
MIDDLEWARE = []
ROOT_URLCONF = "mysite.urls"
DATABASES = {}
USE_TZ = True

#: The Redis of the job queue, and the queue's name.
REDIS_URL = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
GJOBS_PREFIX = os.environ.get("GJOBS_PREFIX", "gjobs")
