"""Why a ping request is refused: named errors the API answers with their status and message.

A decoder raises these only when the whole request is unusable; one bad ping inside a batch is a
`Problem` in its place instead (fixes.py). Device authentication's refusals are in auth.py.
"""

from rest_framework import status

from core.api import DomainError


class TrackingError(DomainError):
    """Base for refused pings."""


class MalformedPing(TrackingError):
    status_code = status.HTTP_400_BAD_REQUEST


class BatchTooLarge(TrackingError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
