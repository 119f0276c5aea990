"""Presence after the upload, judged from what the lock read: no query unless it changed.

The rule is duty.py's; `presence.record` stores a change with its event and `presence_changed`
(sent once per batch, after commit).
"""

from __future__ import annotations

from datetime import timedelta

from ..duty import evaluate, shift_at, wib_date, windows_from
from ..presence import record
from .upload import Upload


def judge(upload: Upload) -> None:
    locked, at = upload.locked, upload.received_at
    day = wib_date(at)
    windows = windows_from(locked.weekly, locked.overrides, day - timedelta(days=1), day)
    judged = evaluate(locked.supervisor_id, upload.latest, shift_at(windows, at), at)
    record(judged, current=locked.presence_state, latest=upload.latest)
