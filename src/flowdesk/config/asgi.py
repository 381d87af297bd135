"""The ASGI entry point: ``uvicorn flowdesk.config.asgi:application`` (or gunicorn with the
uvicorn worker), the server under which the chat's Server-Sent Events are offered
(docs/deployment.md). The embedded ``flowdesk serve`` (waitress) uses ``wsgi.py``."""

import os

from django.core.asgi import get_asgi_application
from django.db import connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowdesk.config.settings")
application = get_asgi_application()
# Under ASGI each request's sync view runs in a thread of that request: a persistent connection
# would outlive its thread, one per request, until the server runs out of them (Django's docs:
# disable persistent connections under ASGI). Each request (and each stream read) connects anew.
for alias in connections:
    connections.settings[alias]["CONN_MAX_AGE"] = 0
