"""Attendance (pay depends on it): per supervisor and WIB date, from the ping history, in SQL.

A day's shifts are the shifts that *start* on that WIB date (a 22:00-06:00 shift belongs to
the evening it starts). For each shift, one query over the history with window functions:

- each non-mock fix covers [t, min(next fix, t + TRACKING_PRESENCE_WINDOW_S, shift end)];
  a fix just before the shift starts covers into it the same way;
- covered time counts as *present* when the fix is inside the assigned area (as judged at
  ingest, with the accuracy margin); a single outside fix between two inside fixes is
  forgiven, as in presence (one bad fix does not flip it);
- *gaps* are the uncovered stretches (no fresh fix), including before the first fix and after
  the last one; *out-of-area spells* are runs of consecutive outside fixes (gaps and islands);
- mock fixes never cover anything; they are counted as evidence.

ratio = present / shift minutes; verdict "present" when ratio >= TRACKING_ATTENDANCE_PRESENT_RATIO.
The evidence (gaps and spells, longest first, capped) is stored with the verdict so a disputed
day can be explained later even after the pings have been dropped by retention.
"""

from __future__ import annotations

import calendar
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from django.db import connection, transaction
from django.utils import timezone
from rest_framework import status

from core.api import DomainError

from . import settings as ts
from .duty import WIB, ShiftWindow, wib_date
from .models import AttendanceDay, Shift, Supervisor


class AttendanceQueryError(DomainError):
    status_code = status.HTTP_400_BAD_REQUEST


SHIFT_SQL = """
WITH shifts AS (
    SELECT * FROM unnest(%(sid)s::bigint[], %(no)s::int[], %(st)s::timestamptz[], %(en)s::timestamptz[])
        AS s(sid, no, starts, ends)
),
p AS (
    SELECT s.sid, s.no, s.starts, s.ends, k.device_time AS t, k.in_area,
           lead(k.device_time) OVER w AS next_t,
           lag(k.in_area) OVER w AS prev_in,
           lead(k.in_area) OVER w AS next_in,
           row_number() OVER w AS rn
    FROM shifts s
    JOIN tracking_ping k
      ON k.supervisor_id = s.sid
     AND k.device_time >= s.starts - make_interval(secs => %(win)s)
     AND k.device_time < s.ends
     AND NOT k.mock
    WINDOW w AS (PARTITION BY s.sid, s.no ORDER BY k.device_time)
),
seg AS (
    SELECT *,
           greatest(t, starts) AS a,
           least(coalesce(next_t, ends), t + make_interval(secs => %(win)s), ends) AS b,
           (in_area OR (coalesce(prev_in, false) AND coalesce(next_in, false))) AS eff_in
    FROM p
),
isl AS (
    SELECT *, rn - row_number() OVER (PARTITION BY sid, no, eff_in ORDER BY t) AS grp FROM seg
),
gaps AS (
    SELECT sid, no, greatest(b, starts) AS g0, least(coalesce(next_t, ends), ends) AS g1 FROM seg
    WHERE least(coalesce(next_t, ends), ends) > greatest(b, starts)
    UNION ALL
    SELECT sid, no, starts, t FROM seg WHERE rn = 1 AND t > starts
),
agg AS (
    SELECT sid, no,
           count(*) FILTER (WHERE t >= starts) AS pings,
           coalesce(sum(extract(epoch FROM b - a)) FILTER (WHERE eff_in AND b > a), 0) AS present_s
    FROM seg GROUP BY sid, no
),
gap_j AS (
    SELECT sid, no, max(extract(epoch FROM g1 - g0)) AS longest_s,
           jsonb_agg(jsonb_build_array(g0, g1) ORDER BY g1 - g0 DESC)
               FILTER (WHERE g1 - g0 >= make_interval(secs => %(min_gap)s)) AS gaps
    FROM gaps GROUP BY sid, no
),
out_j AS (
    SELECT sid, no, jsonb_agg(jsonb_build_array(s0, s1, n) ORDER BY s1 - s0 DESC) AS spells
    FROM (
        SELECT sid, no, grp, greatest(min(t), min(starts)) AS s0, max(b) AS s1, count(*) AS n
        FROM isl WHERE NOT eff_in GROUP BY sid, no, grp
    ) x
    GROUP BY sid, no
),
mock_j AS (
    SELECT s.sid, s.no, count(*) AS mock
    FROM shifts s JOIN tracking_ping k
      ON k.supervisor_id = s.sid AND k.device_time >= s.starts AND k.device_time < s.ends AND k.mock
    GROUP BY s.sid, s.no
)
SELECT s.sid, s.no, coalesce(agg.pings, 0), coalesce(agg.present_s, 0), gap_j.longest_s,
       gap_j.gaps, out_j.spells, coalesce(mock_j.mock, 0)
FROM shifts s
LEFT JOIN agg USING (sid, no)
LEFT JOIN gap_j USING (sid, no)
LEFT JOIN out_j USING (sid, no)
LEFT JOIN mock_j USING (sid, no)
"""


@dataclass
class ShiftResult:
    shift: ShiftWindow
    pings: int
    mock_pings: int
    present_s: float
    longest_gap_s: float
    gaps: list
    spells: list


def _measure(windows: Mapping[int, list[ShiftWindow]]) -> dict[int, list[ShiftResult]]:
    flat = [(sid, no, w) for sid, ws in windows.items() for no, w in enumerate(ws)]
    out: dict[int, list[ShiftResult]] = defaultdict(list)
    if not flat:
        return out
    params = {
        "sid": [f[0] for f in flat],
        "no": [f[1] for f in flat],
        "st": [f[2].start for f in flat],
        "en": [f[2].end for f in flat],
        "win": ts.presence_window_s(),
        "min_gap": ts.attendance_min_gap_s(),
    }
    by_key = {(sid, no): w for sid, no, w in flat}
    with connection.cursor() as cur:
        cur.execute(SHIFT_SQL, params)
        for sid, no, pings, present_s, longest, gaps, spells, mock in cur.fetchall():
            w = by_key[(sid, no)]
            gaps = json.loads(gaps) if isinstance(gaps, str) else (gaps or [])
            spells = json.loads(spells) if isinstance(spells, str) else (spells or [])
            if pings == 0 and longest is None:  # nothing at all: the whole shift is one gap
                longest = (w.end - w.start).total_seconds()
                gaps = [[w.start.isoformat(), w.end.isoformat()]]
            out[sid].append(ShiftResult(w, pings, mock, float(present_s), float(longest or 0), gaps, spells))
    return out


def _wib(value: str) -> str:
    return datetime.fromisoformat(value).astimezone(WIB).strftime("%Y-%m-%d %H:%M:%S")


def _minutes(start: str, end: str) -> float:
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() / 60, 1)


def _longest(item: list) -> float:
    return -item[2]


def compute_day(day: date, supervisor_ids: Iterable[int] | None = None) -> list[AttendanceDay]:
    """Compute and store (replace) the attendance of `day` (a WIB date) for each scheduled supervisor."""
    sups = Supervisor.objects.active()
    if supervisor_ids is not None:
        sups = sups.filter(pk__in=list(supervisor_ids))
    ids = list(sups.values_list("pk", flat=True))
    windows = {sid: ws for sid, ws in Shift.objects.windows(ids, day, day).items() if ws}
    measured = _measure(windows)
    cap = ts.attendance_max_evidence()
    days = []
    for sid, results in measured.items():
        shift_s = sum((r.shift.end - r.shift.start).total_seconds() for r in results)
        present_s = sum(r.present_s for r in results)
        ratio = present_s / shift_s if shift_s else 0.0
        gaps = sorted(([_wib(g[0]), _wib(g[1]), _minutes(g[0], g[1])] for r in results for g in r.gaps), key=_longest)
        spells = sorted(
            ([_wib(x[0]), _wib(x[1]), _minutes(x[0], x[1]), x[2]] for r in results for x in r.spells), key=_longest
        )
        days.append(
            AttendanceDay(
                supervisor_id=sid,
                date=day,
                shift_minutes=round(shift_s / 60, 2),
                present_minutes=round(present_s / 60, 2),
                longest_gap_minutes=round(max(r.longest_gap_s for r in results) / 60, 2),
                ratio=round(ratio, 4),
                verdict="present" if ratio >= ts.attendance_present_ratio() else "absent",
                pings=sum(r.pings for r in results),
                mock_pings=sum(r.mock_pings for r in results),
                evidence={
                    "shifts": [[_wib(r.shift.start.isoformat()), _wib(r.shift.end.isoformat())] for r in results],
                    "gaps": gaps[:cap],  # [from, to (WIB), minutes], longest first
                    "gap_count": len(gaps),
                    "out_of_area": spells[:cap],  # [from, to (WIB), minutes, fixes], longest first
                    "out_of_area_count": len(spells),
                    "threshold": ts.attendance_present_ratio(),
                    "fresh_window_s": ts.presence_window_s(),
                },
            )
        )
    with transaction.atomic():
        AttendanceDay.objects.filter(date=day, supervisor_id__in=ids).delete()
        AttendanceDay.objects.bulk_create(days)
    return days


# --- reports -------------------------------------------------------------------------------------
@dataclass
class ReportQuery:
    day: date | None = None
    month: tuple[int, int] | None = None
    opd: str | None = None
    recompute: bool = False
    supervisor_id: int | None = None  # only this supervisor's rows (a supervisor asking for their own)

    @property
    def label(self) -> str:
        return self.day.isoformat() if self.day else f"{self.month[0]:04d}-{self.month[1]:02d}"

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> ReportQuery:
        day, month = params.get("date"), params.get("month")
        if bool(day) == bool(month):
            raise AttendanceQueryError("give exactly one of date=YYYY-MM-DD or month=YYYY-MM")
        recompute = str(params.get("recompute", "")).lower() in {"1", "true", "yes"}
        try:
            if day:
                return cls(day=date.fromisoformat(day), opd=params.get("opd") or None, recompute=recompute)
            y, m = month.split("-")
            if len(y) != 4 or not 1 <= int(m) <= 12:
                raise ValueError(month)
            return cls(month=(int(y), int(m)), opd=params.get("opd") or None, recompute=recompute)
        except ValueError as exc:
            raise AttendanceQueryError(f"not a date (YYYY-MM-DD) or month (YYYY-MM): {day or month!r}") from exc

    def days(self) -> list[date]:
        if self.day:
            return [self.day]
        y, m = self.month
        return [date(y, m, d) for d in range(1, calendar.monthrange(y, m)[1] + 1)]


def ensure_computed(days: Iterable[date], recompute: bool = False) -> None:
    """Compute days never computed (and always today, which is still running); future days are skipped."""
    today = wib_date(timezone.now())
    done = set(AttendanceDay.objects.filter(date__in=list(days)).values_list("date", flat=True).distinct())
    for d in days:
        if d > today:
            continue
        if recompute or d == today or d not in done:
            compute_day(d)


def report_rows(query: ReportQuery) -> list[dict]:
    """Flat rows for JSON/CSV/XLSX: per supervisor and day, or per supervisor for the month."""
    days = query.days()
    ensure_computed(days, recompute=query.recompute)
    qs = (
        AttendanceDay.objects.filter(date__in=days)
        .select_related("supervisor__opd")
        .order_by("supervisor__name", "date")
    )
    if query.opd:
        qs = qs.filter(supervisor__opd__code=query.opd)
    if query.supervisor_id is not None:
        qs = qs.filter(supervisor_id=query.supervisor_id)
    if query.day:
        return [
            {
                "date": a.date.isoformat(),
                "supervisor_id": a.supervisor_id,
                "supervisor": a.supervisor.name,
                "opd": a.supervisor.opd.code,
                "shift_minutes": a.shift_minutes,
                "present_minutes": a.present_minutes,
                "ratio": a.ratio,
                "longest_gap_minutes": a.longest_gap_minutes,
                "verdict": a.verdict,
                "pings": a.pings,
                "mock_pings": a.mock_pings,
                "gaps": a.evidence.get("gap_count", 0),
                "out_of_area_spells": a.evidence.get("out_of_area_count", 0),
                "evidence": json.dumps(a.evidence, ensure_ascii=False),
            }
            for a in qs
        ]
    summary: dict[int, dict] = {}
    for a in qs:
        s = summary.setdefault(
            a.supervisor_id,
            {
                "month": query.label,
                "supervisor_id": a.supervisor_id,
                "supervisor": a.supervisor.name,
                "opd": a.supervisor.opd.code,
                "days_scheduled": 0,
                "days_present": 0,
                "days_absent": 0,
                "shift_hours": 0.0,
                "present_hours": 0.0,
                "ratio": 0.0,
                "absent_dates": [],
            },
        )
        s["days_scheduled"] += 1
        s["days_present" if a.verdict == "present" else "days_absent"] += 1
        s["shift_hours"] += a.shift_minutes / 60
        s["present_hours"] += a.present_minutes / 60
        if a.verdict == "absent":
            s["absent_dates"].append(a.date.isoformat())
    for s in summary.values():
        s["ratio"] = round(s["present_hours"] / s["shift_hours"], 4) if s["shift_hours"] else 0.0
        s["shift_hours"] = round(s["shift_hours"], 2)
        s["present_hours"] = round(s["present_hours"], 2)
        s["absent_dates"] = " ".join(s["absent_dates"])
    return list(summary.values())
