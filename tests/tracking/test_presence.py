"""Presence at each edge of each window, and Supervisor.objects.on_duty()."""

from datetime import time, timedelta

import pytest
from django.contrib.gis.geos import Point
from django.test import override_settings

from tests.tracking.conftest import CIPONDOH, TANGERANG, make_supervisor, wib
from tracking import presence
from tracking.models import LatestPosition, ShiftOverride, Supervisor
from tracking.presence import State

pytestmark = pytest.mark.django_db

NOW = wib(2025, 3, 4, 10, 0)  # a Tuesday, 10:00 WIB


def place(sup, at, where=CIPONDOH, in_area=True, **kw):
    LatestPosition.objects.update_or_create(
        supervisor=sup,
        defaults=dict(point=Point(*where, srid=4326), device_time=at, received_at=at, in_area=in_area, **kw),
    )
    return Supervisor.objects.select_related("latest_position").get(pk=sup.pk)


def state(sup, at=NOW):
    return presence.presence_for([sup], at)[sup.pk]


@pytest.mark.parametrize(
    "age_s, expected",
    [
        (0, State.ON_DUTY),
        (300, State.ON_DUTY),  # exactly the window: still fresh
        (301, State.STALE),
        (1800, State.STALE),  # exactly the offline window: stale, not yet offline
        (1801, State.OFFLINE),
    ],
)
def test_freshness_edges(city, age_s, expected):
    sup = place(make_supervisor(), NOW - timedelta(seconds=age_s))
    p = state(sup)
    assert p.state == expected
    assert p.reason


def test_never_pinged_is_offline(city):
    sup = make_supervisor()
    p = state(sup)
    assert p.state == State.OFFLINE and "no fix" in p.reason


def test_shift_edges_and_midnight(city):
    # Monday 22:00 -> Tuesday 06:00 WIB
    sup = make_supervisor(shifts=[(0, time(22), time(6))])
    assert state(place(sup, wib(2025, 3, 3, 21, 59)), wib(2025, 3, 3, 21, 59)).state == State.OFF_SHIFT
    assert state(place(sup, wib(2025, 3, 3, 22, 0)), wib(2025, 3, 3, 22, 0)).state == State.ON_DUTY
    assert state(place(sup, wib(2025, 3, 4, 5, 59)), wib(2025, 3, 4, 5, 59)).state == State.ON_DUTY
    p = state(place(sup, wib(2025, 3, 4, 6, 0)), wib(2025, 3, 4, 6, 0))
    assert p.state == State.OFF_SHIFT and "no shift" in p.reason


def test_override_replaces_weekly_shift(city):
    sup = make_supervisor(shifts=[(1, time(8), time(16))])  # Tuesdays 08-16
    sup = place(sup, NOW)
    assert state(sup).state == State.ON_DUTY
    ShiftOverride.objects.create(supervisor=sup, date=NOW.date(), off=True, note="cuti")
    assert state(sup).state == State.OFF_SHIFT
    ShiftOverride.objects.all().delete()
    ShiftOverride.objects.create(supervisor=sup, date=NOW.date(), start=time(12), end=time(20))
    assert state(sup).state == State.OFF_SHIFT  # 10:00 is before the replacement shift
    assert state(sup, NOW + timedelta(hours=3)).state == State.OFFLINE  # in the new shift; last fix 3 h old


def test_out_of_area_needs_confirmation_or_dwell(city):
    sup = make_supervisor()
    one = place(sup, NOW, TANGERANG, in_area=False, outside_since=NOW, outside_count=1)
    assert state(one).state == State.ON_DUTY  # one outside fix does not flip it
    with override_settings(TRACKING_AREA_EXIT_DWELL_S=120):
        assert state(one, NOW + timedelta(seconds=119)).state == State.ON_DUTY
        assert state(one, NOW + timedelta(seconds=120)).state == State.OUT_OF_AREA
    confirmed = place(
        sup,
        NOW,
        TANGERANG,
        in_area=False,
        outside_since=NOW,
        outside_count=2,
        area_confirmed_out=True,
        kecamatan_code="36.71.01",
    )
    p = state(confirmed)
    assert p.state == State.OUT_OF_AREA and "36.71.01" in p.reason


def test_on_duty_queryset_matches_presence(city):
    a = place(make_supervisor("A"), NOW)
    place(make_supervisor("B"), NOW - timedelta(minutes=10))  # stale
    place(make_supervisor("C", shifts=None), NOW)  # no shift
    place(
        make_supervisor("D"), NOW, TANGERANG, in_area=False, outside_since=NOW, outside_count=3, area_confirmed_out=True
    )
    make_supervisor("E")  # never pinged
    place(make_supervisor("F", opd="bpbd"), NOW)
    on_duty = Supervisor.objects.on_duty(at=NOW)
    assert {s.name for s in on_duty} == {"A", "F"}
    dishub = on_duty.filter(opd__code="dishub")
    assert [s.pk for s in dishub] == [a.pk]
    assert dishub[0].latest_position.point.x == pytest.approx(CIPONDOH[0])


def test_record_presence_emits_event_and_signal(city, django_capture_on_commit_callbacks):
    from tracking.models import TrackingEvent
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
