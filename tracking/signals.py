"""Signals other apps hook into (dispatch, the live console). Both are sent after commit.

position_updated: a supervisor's latest position moved forward.
    kwargs: supervisor_id (int), position (LatestPosition), previous_time (datetime | None), and
    from the worker supervisor (Supervisor with its OPD, read with the position)
presence_changed: a supervisor's presence changed (by a ping or by time passing).
    kwargs: supervisor_id (int), old (str), new (str), presence (duty.Presence, or None when
    the worker relays it; it then also passes supervisor and position, read when delivered)

They travel through core.relay under the topics below: in the request after commit ("inline")
or from the worker, whose deliverers (deliveries.py) read the committed state and send them.
"""

from django.dispatch import Signal

position_updated = Signal()
presence_changed = Signal()

POSITION = "tracking.position"
PRESENCE = "tracking.presence"
