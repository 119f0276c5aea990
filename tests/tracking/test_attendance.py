"""Attendance on constructed days with known answers; exports as CSV and XLSX (API and command)."""

import csv
import io
from datetime import date, time, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from openpyxl import load_workbook
from rest_framework.test import APIClient

from tests.tracking.conftest import CIPONDOH, TANGERANG, make_supervisor, user_with_role, wib
from tracking import attendance, partitions
from tracking.models import AttendanceDay, ShiftOverride

pytestmark = pytest.mark.django_db

TUESDAY = date(2025, 3, 4)


def put_pings(sup, rows):
    """rows: (aware time, in_area, mock, (lon, lat)). Written straight into the history."""
    partitions.ensure_days({partitions.utc_day(t) for t, *_ in rows})
    with connection.cursor() as cur:
        cur.executemany(
            "INSERT INTO tracking_ping"
            " (device_id, supervisor_id, device_time, received_at, point, mock, in_area, source)"
            " VALUES (%s, %s, %s, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326), %s, %s, 'test')",
            [(sup.device.pk, sup.pk, t, t, where[0], where[1], mock, inside) for t, inside, mock, where in rows],
        )


def constructed_day(sup):
    """08:00-16:00 WIB with a 55-min gap, a 60-min out-of-area spell, 30 min of mock fixes, one stray fix."""
    start = wib(2025, 3, 4, 8, 0)
    rows = []
    for m in range(480):
        if 121 <= m <= 179:  # silent 10:01-10:59; the 10:00 fix covers to 10:05
            continue
        t = start + timedelta(minutes=m)
        out = 240 <= m <= 299  # 12:00-12:59 outside the area
        mock = 360 <= m <= 389  # 14:00-14:29 mock locations
        stray = m == 420  # 15:00 one outside fix between inside fixes: forgiven
        rows.append((t, not (out or stray), mock, TANGERANG if out or stray else CIPONDOH))
    put_pings(sup, rows)


def test_constructed_day_known_answer(city):
    sup = make_supervisor(shifts=[(1, time(8), time(16))])
    constructed_day(sup)
    (day,) = attendance.compute_day(TUESDAY)
    assert day.shift_minutes == 480
    assert day.present_minutes == pytest.approx(480 - 55 - 60 - 26)
    assert day.longest_gap_minutes == pytest.approx(55)
    assert day.ratio == pytest.approx(339 / 480, abs=1e-4)
    assert day.verdict == "absent"  # below 0.8
    assert day.mock_pings == 30 and day.pings == 480 - 59 - 30
    ev = day.evidence
    assert ev["gaps"][0] == ["2025-03-04 10:05:00", "2025-03-04 11:00:00", 55.0]
    assert ev["gaps"][1] == ["2025-03-04 14:04:00", "2025-03-04 14:30:00", 26.0]
    assert ev["gap_count"] == 2
    assert ev["out_of_area"] == [["2025-03-04 12:00:00", "2025-03-04 13:00:00", 60.0, 60]]


def test_threshold_setting_changes_the_verdict(city, settings):
    sup = make_supervisor(shifts=[(1, time(8), time(16))])
    constructed_day(sup)
    settings.TRACKING_ATTENDANCE_PRESENT_RATIO = 0.7
    assert attendance.compute_day(TUESDAY)[0].verdict == "present"


def test_shift_crossing_midnight_belongs_to_the_evening_it_starts(city):
    sup = make_supervisor(shifts=[(0, time(22), time(6))])  # Monday night
    start = wib(2025, 3, 3, 21, 0)
    put_pings(sup, [(start + timedelta(minutes=m), True, False, CIPONDOH) for m in range(600)])  # 21:00-07:00
    (monday,) = attendance.compute_day(date(2025, 3, 3))
    assert monday.shift_minutes == 480 and monday.present_minutes == pytest.approx(480)
    assert monday.verdict == "present" and monday.longest_gap_minutes == 0
    assert monday.pings == 480  # the fixes from 22:00 to 05:59
    assert attendance.compute_day(date(2025, 3, 4)) == []  # no shift starts on Tuesday


def test_no_pings_is_absent_with_the_whole_shift_as_evidence(city):
    make_supervisor(shifts=[(1, time(8), time(16))])
    (day,) = attendance.compute_day(TUESDAY)
    assert (day.present_minutes, day.ratio, day.verdict, day.longest_gap_minutes) == (0, 0, "absent", 480)
    assert day.evidence["gaps"][0][:2] == ["2025-03-04 08:00:00", "2025-03-04 16:00:00"]


def test_day_off_override_means_no_attendance_row(city):
    sup = make_supervisor(shifts=[(1, time(8), time(16))])
    ShiftOverride.objects.create(supervisor=sup, date=TUESDAY, off=True)
    assert attendance.compute_day(TUESDAY) == []


def test_exports_csv_xlsx_month_and_command(city, tmp_path):
    sup = make_supervisor("Siti", shifts=[(1, time(8), time(16))])
    constructed_day(sup)
    user = user_with_role("operator")
    api = APIClient()
    assert api.get("/api/tracking/attendance/?date=2025-03-04").status_code in (401, 403)
    api.force_authenticate(user)
    r = api.get("/api/tracking/attendance/?date=2025-03-04&format=csv")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode())))
    assert rows[0]["supervisor"] == "Siti" and rows[0]["verdict"] == "absent"
    assert float(rows[0]["present_minutes"]) == pytest.approx(339)
    r = api.get("/api/tracking/attendance/?month=2025-03&format=xlsx")
    assert r.status_code == 200 and "attachment" in r["Content-Disposition"]
    ws = load_workbook(io.BytesIO(r.content)).active
    header = [c.value for c in ws[1]]
    siti = dict(zip(header, [c.value for c in ws[2]], strict=True))
    # Tuesdays of March 2025 up to today: 4, 11, 18, 25; only the 4th has pings.
    assert siti["days_scheduled"] == 4 and siti["days_absent"] == 4
    assert "2025-03-04" in siti["absent_dates"]
    assert api.get("/api/tracking/attendance/").status_code == 400
    assert api.get("/api/tracking/attendance/?month=2025-13").status_code == 400
    out = tmp_path / "march.csv"
    call_command("attendance_report", "--month", "2025-03", "--output", str(out))
    assert "Siti" in out.read_text()
    assert AttendanceDay.objects.filter(date=TUESDAY).count() == 1
