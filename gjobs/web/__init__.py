"""The gjobs dashboard: queues, workers, jobs, the dead set and schedules in a browser, with the
Prometheus metrics beside them (``pip install 'gjobs[web]'``).

``gjobs web`` serves it; ``gjobs.web.app(url)`` is the same dashboard as a WSGI application for
gunicorn or for mounting in a Flask or Django project (see README "Dashboard and metrics").
"""

from .dashboard import Dashboard, app

__all__ = ["Dashboard", "app"]
