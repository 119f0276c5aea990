"""Signals other apps hook into (dispatch, the live console). Both are sent after commit.

position_updated: a supervisor's latest position moved forward.
    kwargs: supervisor_id (int), position (LatestPosition), previous_time (datetime | None), and
    from the worker supervisor (Supervisor with its OPD, read with the position)
presence_changed: a supervisor's presence changed (by a ping or by time passing).
    kwargs: supervisor_id (int), old (str), new (str), presence (presence.Presence, or None when
    the worker relays it; it then also passes supervisor and position, read when delivered)

They travel through core.relay: in the request after commit ("inline") or from the worker.
The worker's deliverers are here: they read the committed state and send the same signals.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from django.dispatch import Signal

from core import relay
from core.signals import send_logged

position_updated = Signal()
presence_changed = Signal()

POSITION = "tracking.position"
PRESENCE = "tracking.presence"


_batch = threading.local()  # the positions `_read_positions` read for the batch being delivered


@contextmanager
def _positions_of_one_batch() -> Iterator[None]:
    """What `_read_positions` read serves the batch it was read for, and no later delivery."""
    _batch.positions = {}
    try:
        yield
    finally:
        _batch.positions = {}


relay.BATCH_SCOPES.append(_positions_of_one_batch)


def _read_positions(keys: list[str]) -> None:
    """The batch's positions, with their supervisors and OPDs, in one query instead of one per
    delivery (~30 supervisors' changes in a batch of 50 rows), for both topics below."""
    from .models import LatestPosition  # noqa: PLC0415

    rows = LatestPosition.objects.select_related("supervisor__opd").filter(pk__in=[int(k) for k in keys])
    _batch.positions = {p.pk: p for p in rows}


@relay.topic(POSITION, coalesce=True, prepare=_read_positions)
def _deliver_position(key: str, data: list[dict]) -> None:
    """Once for every position change of one supervisor pending at this moment: the newest stands."""
    from .models import LatestPosition  # noqa: PLC0415

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


def _position(supervisor_id: int):
    """The supervisor's latest position (with supervisor and OPD) as the batch read it at its claim
    (a change after that has a row of its own, delivered next), else read now."""
    from .models import LatestPosition  # noqa: PLC0415

    read = getattr(_batch, "positions", {})
    if supervisor_id in read:
        return read[supervisor_id]
    return LatestPosition.objects.select_related("supervisor__opd").filter(pk=supervisor_id).first()


@relay.topic(PRESENCE, prepare=_read_positions)
def _deliver_presence(key: str, data: list[dict]) -> None:
    from .models import Supervisor  # noqa: PLC0415

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
