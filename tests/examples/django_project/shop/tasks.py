"""The shop's tasks."""

from django.conf import settings

import gjobs

queue = gjobs.Queue.from_url(settings.REDIS_URL, prefix=settings.GJOBS_PREFIX)


@queue.task(max_attempts=10)
def send_welcome(email, name=""):
    """Send the welcome mail (here: put it in an outbox list a test can read)."""
    greeting = f"Welcome, {name}!" if name else "Welcome!"
    queue.client.rpush(f"example:{queue.prefix}:outbox", f"{email}: {greeting}")
