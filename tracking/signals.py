"""Signals other apps hook into (dispatch, the live console). Both are sent after commit.

position_updated: a supervisor's latest position moved forward.
    kwargs: supervisor_id (int), position (LatestPosition), previous_time (datetime | None), and
    from the worker supervisor (Supervisor with its OPD, read with the position)
presence_changed: a supervisor's presence changed (by a ping or by time passing).
    kwargs: supervisor_id (int), old (str), new (str), presence (presence.Presence, or None when
    the worker relays it; it then also passes supervisor and position, read when delivered)

They travel through geoapp.relay: in the request after commit ("inline") or from the worker.
The worker's deliverers are here: they read the committed state and send the same signals.
"""

from datetime import datetime

from django.dispatch import Signal

from geoapp import relay
from geoapp.signals import send_logged

position_updated = Signal()
presence_changed = Signal()

POSITION = "tracking.position"
PRESENCE = "tracking.presence"


@relay.topic(POSITION, coalesce=True)
def _deliver_position(key: str, data: list[dict]) -> None:
    """Once for every position change of one supervisor pending at this moment: the newest stands."""
    from .models import LatestPosition  # noqa: PLC0415

    position = LatestPosition.objects.select_related("supervisor__opd").filter(pk=int(key)).first()
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


@relay.topic(PRESENCE)
def _deliver_presence(key: str, data: list[dict]) -> None:
    from .models import LatestPosition, Supervisor  # noqa: PLC0415

    position = LatestPosition.objects.select_related("supervisor__opd").filter(pk=int(key)).first()
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
