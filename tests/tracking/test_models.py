"""Queryset methods: `Supervisor.objects.on_duty()` by the presence rule, `Shift.objects.windows()`."""

from datetime import date, time, timedelta

import pytest

from tests.tracking.conftest import (
    CIPONDOH,
    TANGERANG,
    make_supervisor,
    place,
    wib,
)
from tracking.models import (
    Shift,
    ShiftOverride,
    Supervisor,
)

pytestmark = pytest.mark.django_db


NOW = wib(2025, 3, 4, 10, 0)  # a Tuesday, 10:00 WIB


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


def test_shift_windows_cross_midnight_and_overrides_replace_a_day(city):
    sup = make_supervisor(shifts=[(0, time(22), time(6)), (1, time(8), time(16))])  # Monday night, Tuesday day
    ShiftOverride.objects.create(supervisor=sup, date=date(2025, 3, 4), off=True)  # Tuesday 4 March off
    windows = Shift.objects.windows([sup.pk], date(2025, 3, 3), date(2025, 3, 4))[sup.pk]
    assert [(w.date, w.start, w.end) for w in windows] == [(date(2025, 3, 3), wib(2025, 3, 3, 22), wib(2025, 3, 4, 6))]
    assert Shift.objects.windows_around([sup.pk], wib(2025, 3, 4, 5))[sup.pk] == windows
