"""Signals other apps hook into (dispatch, the live console). Both are sent after commit.

position_updated: a supervisor's latest position moved forward.
    kwargs: supervisor_id (int), position (LatestPosition), previous_time (datetime | None)
presence_changed: a supervisor's presence changed (by a ping or by time passing).
    kwargs: supervisor_id (int), old (str), new (str), presence (presence.Presence)
"""

from django.dispatch import Signal

position_updated = Signal()
presence_changed = Signal()
