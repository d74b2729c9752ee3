"""What ``gjobs-worker --import mysite.gjobs_worker`` loads: Django, then the task modules.

Django must be set up before task modules import models; a worker process starts here.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
django.setup()

import shop.tasks  # noqa: E402,F401  (registers the shop's tasks)
