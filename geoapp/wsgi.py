"""WSGI entry point (for a plain WSGI server; the live console needs ASGI)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geoapp.settings")
application = get_wsgi_application()

from geoapp import heap  # noqa: E402

heap.settle()  # full garbage collections walk only what requests create (geoapp/heap.py)
