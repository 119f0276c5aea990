"""The worker's side of tracking's signals: the relay's rows -> `position_updated`, `presence_changed`.

A change is queued by the request that made it (ingest/latest.py, presence.py); the worker claims
a batch of rows and calls the deliverer of each topic, which reads the committed state and sends
the signal as the request would have (signals.py). `connect()`, called from AppConfig.ready,
registers them with core.relay.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from core import relay
from core.signals import send_logged

from .models import LatestPosition, Supervisor
from .signals import POSITION, PRESENCE, position_updated, presence_changed

_batch = threading.local()  # the positions `read_positions` read for the batch being delivered


@contextmanager
def _positions_of_one_batch() -> Iterator[None]:
    """What `read_positions` read serves the batch it was read for, and no later delivery."""
    _batch.positions = {}
    try:
        yield
    finally:
        _batch.positions = {}


def read_positions(keys: list[str]) -> None:
    """The batch's positions, with their supervisors and OPDs, in one query instead of one per
    delivery (~30 supervisors' changes in a batch of 50 rows), for both topics."""
    rows = LatestPosition.objects.select_related("supervisor__opd").filter(pk__in=[int(k) for k in keys])
    _batch.positions = {p.pk: p for p in rows}


def deliver_position(key: str, data: list[dict]) -> None:
    """Once for every position change of one supervisor pending at this moment: the newest stands."""
    position = _position(int(key))
    if position is None:
        return
    previous = data[0].get("previous_time") if data else None
    send_logged(
        position_updated,
        LatestPosition,
        supervisor_id=int(key),
        position=position,
        previous_time=datetime.fromisoformat(previous) if previous else None,
        supervisor=position.supervisor,  # read just now, with its OPD: receivers need not read it again
    )


def _position(supervisor_id: int) -> LatestPosition | None:
    """The supervisor's latest position (with supervisor and OPD) as the batch read it at its claim
    (a change after that has a row of its own, delivered next), else read now."""
    read = getattr(_batch, "positions", {})
    if supervisor_id in read:
        return read[supervisor_id]
    return LatestPosition.objects.select_related("supervisor__opd").filter(pk=supervisor_id).first()


def deliver_presence(key: str, data: list[dict]) -> None:
    position = _position(int(key))
    supervisor = (
        position.supervisor if position else Supervisor.objects.select_related("opd").filter(pk=int(key)).first()
    )
    for change in data:
        send_logged(
            presence_changed,
            Supervisor,
            supervisor_id=int(key),
            old=change["old"],
            new=change["new"],
            presence=None,
            supervisor=supervisor,  # read just now, with its OPD and latest position
            position=position,
        )


def connect() -> None:
    """Register the deliverers and the batch scope of what `read_positions` reads (once per process)."""
    relay.topic(POSITION, coalesce=True, prepare=read_positions)(deliver_position)
    relay.topic(PRESENCE, prepare=read_positions)(deliver_presence)
    if _positions_of_one_batch not in relay.BATCH_SCOPES:
        relay.BATCH_SCOPES.append(_positions_of_one_batch)
