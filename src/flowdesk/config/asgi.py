"""The ASGI entry point: ``uvicorn flowdesk.config.asgi:application`` (or gunicorn with the
uvicorn worker), the server under which the chat's Server-Sent Events are offered
(docs/deployment.md). The embedded ``flowdesk serve`` (waitress) uses ``wsgi.py``."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowdesk.config.settings")
application = get_asgi_application()
