"""Presence recorded: a change is an event and a signal; the sweeper records the time-driven ones."""

from datetime import timedelta

import pytest

from tests.tracking.conftest import (
    make_supervisor,
    place,
    wib,
)
from tracking import presence
from tracking.models import TrackingEvent

pytestmark = pytest.mark.django_db


NOW = wib(2025, 3, 4, 10, 0)  # a Tuesday, 10:00 WIB


def state(sup, at=NOW):
    return presence.presence_for([sup], at)[sup.pk]


def test_record_presence_emits_event_and_signal(city, django_capture_on_commit_callbacks):
    from tracking.signals import presence_changed

    seen = []
    presence_changed.connect(lambda **kw: seen.append((kw["old"], kw["new"])), weak=False, dispatch_uid="t1")
    try:
        sup = place(make_supervisor(), NOW)
        with django_capture_on_commit_callbacks(execute=True):
            assert presence.record(state(sup)) is True
            assert presence.record(state(sup)) is False  # no change, no event
        assert seen == [("offline", "on_duty")]
        ev = TrackingEvent.objects.get(supervisor=sup, kind="presence")
        assert ev.new_state == "on_duty" and ev.point is not None
        with django_capture_on_commit_callbacks(execute=True):
            assert presence.sweep(NOW + timedelta(minutes=6)) == 1
        assert seen[-1] == ("on_duty", "stale")
    finally:
        presence_changed.disconnect(dispatch_uid="t1")
