"""Answer 503 (retry later) when the database is unreachable, instead of a 500.

During a PostgreSQL restart or failover, requests fail with OperationalError/InterfaceError.
Nothing was accepted, so the honest answer is 503 with Retry-After: phones and clients retry
(Traccar Client and OwnTracks keep the fix and resend), and idempotency keys make the retry safe.
"""

import logging

from django.db import InterfaceError, OperationalError, close_old_connections
from django.http import JsonResponse

log = logging.getLogger("core.db")

RETRY_AFTER_S = 2  # seconds a client should wait before retrying


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        log.warning("database unavailable for %s %s: %s", request.method, request.path, str(exception).splitlines()[0])
        close_old_connections()  # drop the broken connection so the next request reconnects
        detail = "The database is unavailable for a moment; nothing was stored. Please retry in a few seconds."
        response = JsonResponse({"detail": detail}, status=503)
        response["Retry-After"] = str(RETRY_AFTER_S)
        return response
