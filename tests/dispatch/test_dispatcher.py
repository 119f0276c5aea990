"""The rule on the real boundaries: who wins, who is excluded and why, the cap, no candidate."""

from datetime import time, timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from dispatch import dispatcher
from dispatch.exclusions import Exclusion
from dispatch.models import Decision, DispatchState, Order
from incidents.models import Report, Status
from tests.dispatch.conftest import (
    CIPONDOH,
    TANGERANG,
    border_pair,
    interior,
    ping,
    report_at,
    supervisor_at,
)
from tests.tracking.conftest import make_supervisor

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
    assert across.pk in c and c[across.pk]["excluded"] == Exclusion.OUTSIDE_KECAMATAN  # assigned here, across the line
    assert c[stale.pk]["excluded"] == Exclusion.STALE
    assert c[off_shift.pk]["excluded"] == Exclusion.OFF_SHIFT
    assert c[mocker.pk]["excluded"] == Exclusion.MOCK_LOCATION
    assert c[winner.pk]["excluded"] is None and c[winner.pk]["rank"] == 1
    assert 500 < c[winner.pk]["distance_m"] < 700
    order = Order.objects.get(report=report)
    assert order.supervisor_id == winner.pk and order.state == "offered"
    report.refresh_from_db()
    assert report.status == Status.DISPATCHED and report.dispatched_at is not None


def inside(city, depth_m):
    return border_pair(city, CIPONDOH, TANGERANG, depth_m=depth_m)[1]


@override_settings(DISPATCH_MAX_OPEN_ORDERS=1)
def test_cap_sends_the_next_report_to_the_next_supervisor(refdata, city):
    near = supervisor_at(inside(city, 350))
    far = supervisor_at(inside(city, 950))
    first = dispatcher.dispatch(report_at(inside(city, 300)), trigger="test")
    second_report = report_at(inside(city, 320))
    second = dispatcher.dispatch(second_report, trigger="test")
    assert first.chosen_id == near.pk
    assert second.chosen_id == far.pk
    assert by_id(second)[near.pk]["excluded"] == Exclusion.AT_CAP


@override_settings(DISPATCH_TIE_TOLERANCE_M=100)
def test_tie_goes_to_the_lighter_workload(refdata, city):
    busy = supervisor_at(inside(city, 360))
    light = supervisor_at(inside(city, 400))  # 40 m farther: within the tie tolerance
    dispatcher.offer_to(report_at(inside(city, 900)), busy.pk, actor="op")
    decision = dispatcher.dispatch(report_at(inside(city, 300)), trigger="test")
    assert decision.chosen_id == light.pk
    assert by_id(decision)[busy.pk]["workload"] == 1


def test_no_candidate_waits_with_reason_and_suggestions_then_dispatches_when_one_comes_on_duty(
    refdata, city, django_capture_on_commit_callbacks
):
    report_pt = inside(city, 300)
    neighbour = supervisor_at(border_pair(city, CIPONDOH, TANGERANG, depth_m=200)[2], kecamatan=(TANGERANG,))
    with django_capture_on_commit_callbacks(execute=True):
        report = report_at(report_pt)  # routed -> the dispatcher runs on its own
    report.refresh_from_db()
    assert report.status == Status.AWAITING_SUPERVISOR
    state = DispatchState.objects.get(report=report)
    assert state.queue == "awaiting" and "no DBMSDA supervisor is in kecamatan" in state.reason
    assert [s["supervisor_id"] for s in state.suggestions] == [neighbour.pk]
    assert state.suggestions[0]["outside_rule"] == Exclusion.OTHER_KECAMATAN
    assert report.events.filter(to_status=Status.AWAITING_SUPERVISOR).exists()

    # a fitting supervisor (assigned to Cipondoh) switches the phone on inside Cipondoh
    sup = make_supervisor(name="Datang", opd="dbmsda", kecamatan=(CIPONDOH,))
    with django_capture_on_commit_callbacks(execute=True):
        ping(sup, inside(city, 800))
    report.refresh_from_db()
    assert report.status == Status.DISPATCHED
    order = Order.objects.get(report=report)
    assert order.supervisor_id == sup.pk
    assert Decision.objects.filter(report=report, trigger="on_duty", outcome="offered").exists()


def test_opd_without_field_supervisors_is_notified_not_dispatched(refdata, city):
    decision = dispatcher.dispatch(report_at(interior(city, CIPONDOH), category="kamar-bersalin"), trigger="test")
    assert decision.outcome == Decision.Outcome.NOT_DISPATCHED and "Dinkes" in decision.reason


def test_sweep_catches_a_routed_report_whose_signal_was_missed(refdata, city):
    from dispatch.receivers import sweep_awaiting

    sup = supervisor_at(inside(city, 500))
    report = report_at(inside(city, 300))  # no on_commit: the routed signal never ran
    Report.objects.filter(pk=report.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    assert sweep_awaiting()["routed_caught_up"] == 1
    assert Order.objects.get(report=report).supervisor_id == sup.pk


def test_off_area_supervisor_is_suggested_outside_the_rule(refdata, city):
    # assigned to Tangerang, standing in Cipondoh: out of their own area, so not a candidate here
    wanderer = supervisor_at(inside(city, 500), kecamatan=(TANGERANG,))
    report = report_at(inside(city, 300))
    decision = dispatcher.dispatch(report, trigger="test")
    assert decision.outcome == "awaiting"
    mine = next(c for c in decision.candidates if c["supervisor_id"] == wanderer.pk)
    assert mine["excluded"] == Exclusion.OUT_OF_AREA
    assert [s["supervisor_id"] for s in decision.suggestions] == [wanderer.pk]
    assert decision.suggestions[0]["outside_rule"] == Exclusion.OUT_OF_AREA
