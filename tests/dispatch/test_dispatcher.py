"""The rule on the real boundaries: who wins, who is excluded and why, the cap, no candidate."""

from datetime import time, timedelta

import pytest
from django.utils import timezone

from dispatch import dispatcher
from dispatch.models import Decision, Order
from incidents.models import Status
from tests.dispatch.conftest import (
    CIPONDOH,
    TANGERANG,
    border_pair,
    ping,
    report_at,
    supervisor_at,
)

pytestmark = pytest.mark.django_db


def by_id(decision: Decision) -> dict[int, dict]:
    return {c["supervisor_id"]: c for c in decision.candidates}


def test_nearest_in_kecamatan_on_duty_right_opd_wins_over_every_nearer_one(refdata, city):
    def inside_cipondoh(depth_m):  # on the normal to the Cipondoh/Tangerang border
        return border_pair(city, CIPONDOH, TANGERANG, depth_m=depth_m)[1]

    report_pt = inside_cipondoh(300)
    across = border_pair(city, CIPONDOH, TANGERANG, depth_m=40)[2]  # ~340 m, but in Tangerang
    winner = supervisor_at(inside_cipondoh(900))  # ~600 m
    other_opd = supervisor_at(inside_cipondoh(310), opd="dkp")
    across = supervisor_at(across, kecamatan=(CIPONDOH, TANGERANG))  # on duty in its area
    stale = supervisor_at(inside_cipondoh(320), age_s=600)
    weekday_later = (timezone.localtime().weekday() + 3) % 7
    off_shift = supervisor_at(inside_cipondoh(330), shifts=[(weekday_later, time(1), time(2))])
    mocker = supervisor_at(inside_cipondoh(340))
    ping(mocker, inside_cipondoh(301), mock=True, at=timezone.now() + timedelta(seconds=1))

    report = report_at(report_pt)
    decision = dispatcher.dispatch(report, trigger="test")

    assert decision.outcome == Decision.Outcome.OFFERED
    assert decision.chosen_id == winner.pk
    c = by_id(decision)
    assert other_opd.pk not in c  # another OPD is never a candidate
    assert across.pk in c and "outside kecamatan" in c[across.pk]["excluded"]  # assigned here, but across the line
    assert c[stale.pk]["excluded"].startswith("stale")
    assert c[off_shift.pk]["excluded"].startswith("off shift")
    assert "mock" in c[mocker.pk]["excluded"]
    assert c[winner.pk]["excluded"] is None and c[winner.pk]["rank"] == 1
    assert 500 < c[winner.pk]["distance_m"] < 700
    order = Order.objects.get(report=report)
    assert order.supervisor_id == winner.pk and order.state == "offered"
    report.refresh_from_db()
    assert report.status == Status.DISPATCHED and report.dispatched_at is not None
