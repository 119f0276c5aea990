"""Shared API plumbing: domain errors become 4xx answers with a clear message."""

from django.db import DataError
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class DomainError(Exception):
    """Base for named domain errors; `status_code` says which 4xx the API answers."""

    status_code: int = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def exception_handler(exc, context):
    """DRF's handler, plus DomainError -> {"detail": message} with the error's status."""
    if isinstance(exc, DomainError):
        body = {"detail": exc.message}
        if exc.field:
            body = {exc.field: [exc.message], "detail": exc.message}
        return Response(body, status=exc.status_code)
    if isinstance(exc, RecursionError):  # JSON nested thousands deep: the parser gives up
        exc = ParseError("The request body is nested too deeply to read.")
    elif isinstance(exc, DataError):  # a NUL byte in a text, a number out of range: bad input, not a fault
        exc = ParseError("The request holds a value the database cannot store (a NUL byte or a number out of range).")
    return drf_exception_handler(exc, context)
