"""gunicorn settings of the Flask example: its tasks run inside the gevent workers."""

import os

from gjobs.contrib.gunicorn import hooks

worker_class = "gevent"
workers = 2
graceful_timeout = 10

post_worker_init, worker_exit = hooks(prefix=os.environ.get("GJOBS_PREFIX", "gjobs"))
