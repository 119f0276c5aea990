"""Dispatch's domain errors, each with the HTTP status the API answers it with (core.api's handler).

One module for all of them: the dispatcher, the supervisors' actions and the operators' actions
raise the same conflicts, and callers catch them without knowing which module raised.
"""

from __future__ import annotations

from rest_framework import status as http

from core.api import DomainError


# --- deciding and offering ---------------------------------------------------------------------
class DispatchError(DomainError):
    status_code = http.HTTP_409_CONFLICT


class NotDispatchable(DispatchError):
    """The report is closed, or already has an open order."""


class SupervisorUnavailable(DispatchError):
    """An operator picked a supervisor who cannot take the order (other OPD, at the cap)."""


# --- orders --------------------------------------------------------------------------------------
class NotYourOrder(DomainError):
    status_code = http.HTTP_403_FORBIDDEN


class OrderClosed(DomainError):
    status_code = http.HTTP_409_CONFLICT


class OrderConflict(DomainError):
    status_code = http.HTTP_409_CONFLICT


class ReportHeld(DomainError):
    """An operator tried to close a report a supervisor holds: the order is cancelled first."""

    status_code = http.HTTP_409_CONFLICT


class StaleVersion(DomainError):
    """An operator acted on a version of the report's dispatch that someone changed meanwhile."""

    status_code = http.HTTP_409_CONFLICT


class OrderInputError(DomainError):
    status_code = http.HTTP_400_BAD_REQUEST


# --- maternity rooms -----------------------------------------------------------------------------
class BookingError(DomainError):
    status_code = http.HTTP_409_CONFLICT


class NoFreeRoom(BookingError):
    pass


class RoomInputError(DomainError):
    status_code = http.HTTP_400_BAD_REQUEST
