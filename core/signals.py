"""Announcing committed changes to the other apps without letting them fail the request.

Receivers (dispatch, the live console, on-site detection) run after the writer's transaction
has committed: what the client sent is already stored. A receiver that raises must not turn
that into an error answer (the client would retry and, without an idempotency key, store a
second copy); it is logged with its traceback, and the worker's sweeps catch up on what it
missed.
"""

import logging

from django.dispatch import Signal

log = logging.getLogger("core.signals")


def send_logged(signal: Signal, sender: object, **kwargs) -> None:
    """`signal.send_robust`, with every receiver's exception logged."""
    for receiver, result in signal.send_robust(sender=sender, **kwargs):
        if isinstance(result, Exception):
            log.error(
                "receiver %s of a committed change failed; the change stands",
                getattr(receiver, "__qualname__", receiver),
                exc_info=(type(result), result, result.__traceback__),
            )
