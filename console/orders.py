"""Dispatch candidates as the operator's panel shows them: a thin seam over `dispatch.candidates`.

Dispatch owns orders, decisions, the rule and the timers (and their API); this module only
shapes its judgement for the panel, so the console never has its own idea of who may take a
report: every supervisor of the OPD in or assigned to the kecamatan, with presence, distance,
workload and why excluded (`candidates.judge`, the reason in the reader's language), plus its
suggestions outside the rule (on duty in a neighbouring kecamatan). An operator may still choose
one outside the rule; dispatch records that in the decision.
"""

from __future__ import annotations

from django.utils import timezone

from dispatch.candidates import judge, rank, suggestions_for
from dispatch.exclusions import describe
from incidents.models import Report


def _candidate(c: dict, eligible: bool, reasons: list[str]) -> dict:
    return {
        "supervisor_id": c["supervisor_id"],
        "name": c["name"],
        "distance_m": c.get("distance_m"),
        "state": c.get("presence") or "offline",
        "kecamatan": c.get("kecamatan_code") or "",
        "workload": c.get("workload", 0),
        "eligible": eligible,
        "reasons": reasons,
    }


def candidates(report: Report) -> list[dict]:
    """Who fits dispatch's rule (nearest first), then who does not and why, then suggestions outside it."""
    now = timezone.now()
    judged = judge(report, now)
    ranked = rank(judged)
    out = [_candidate(c.as_dict(), True, []) for c in ranked]
    seen = {c["supervisor_id"] for c in out}
    for c in judged:
        if c.supervisor_id not in seen and c.excluded:
            out.append(_candidate(c.as_dict(), False, [describe(c.excluded)]))
            seen.add(c.supervisor_id)
    for s in suggestions_for(report, judged, now):
        if s.supervisor_id not in seen:
            out.append(_candidate(s.as_dict(), False, [describe(s.outside_rule)]))
            seen.add(s.supervisor_id)
    return out
