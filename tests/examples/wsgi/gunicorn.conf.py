"""gunicorn settings: gevent workers, each running a gjobs server beside the application.

    gunicorn -c gunicorn.conf.py app:app
"""

import os

from gjobs.contrib.gunicorn import hooks

worker_class = "gevent"
workers = 1
graceful_timeout = 10

# Start a gjobs server in each worker after the app is loaded, and stop it gracefully on exit.
post_worker_init, worker_exit = hooks(prefix=os.environ.get("GJOBS_PREFIX", "gjobs"), concurrency=10)
