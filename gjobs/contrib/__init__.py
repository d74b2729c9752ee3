"""Integrations with the servers and frameworks gjobs runs inside (``gjobs.contrib.gunicorn``)."""
