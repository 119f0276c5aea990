"""Sent (after commit) when a generation becomes current, so in-process indexes refresh."""

from django.dispatch import Signal

boundaries_activated = Signal()  # kwargs: generation
