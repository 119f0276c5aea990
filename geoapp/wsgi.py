"""WSGI entry point (for a plain WSGI server; the live console needs ASGI)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geoapp.settings")
application = get_wsgi_application()

from core import serving  # noqa: E402

serving.settle()  # the collector and the GIL set for serving (core/serving.py)
