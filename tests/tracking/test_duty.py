"""The presence rule at each edge of each window (duty.py), with shifts read from the database."""

from datetime import time, timedelta
from types import SimpleNamespace

import pytest
from django.test import override_settings

from tests.tracking.conftest import (
    TANGERANG,
    make_supervisor,
    place,
    wib,
)
from tracking import duty, presence
from tracking.duty import State
from tracking.models import ShiftOverride

pytestmark = pytest.mark.django_db


NOW = wib(2025, 3, 4, 10, 0)  # a Tuesday, 10:00 WIB


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


def test_the_rule_reads_no_database():
    windows = duty.windows_from([(1, time(8), time(16))], [], NOW.date(), NOW.date())  # Tuesdays 08-16 WIB
    fix = SimpleNamespace(
        device_time=NOW - timedelta(seconds=30),
        last_mock_at=None,
        in_area=True,
        outside_since=None,
        outside_count=0,
        area_confirmed_out=False,
        kecamatan_code="36.71.05",
    )
    p = duty.evaluate(7, fix, duty.shift_at(windows, NOW), NOW)
    assert p.state == State.ON_DUTY and "08:00-16:00 WIB" in p.reason
    assert duty.evaluate(7, None, duty.shift_at(windows, NOW), NOW).state == State.OFFLINE
    assert duty.evaluate(7, fix, None, NOW).state == State.OFF_SHIFT
    assert duty.presence_of([SimpleNamespace(pk=7, latest_position=fix)], {7: windows}, NOW)[7].state == State.ON_DUTY
