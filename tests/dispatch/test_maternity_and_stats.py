"""Maternity room booking and response times."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from django.utils import timezone
from rest_framework.test import APIClient

from dispatch import maternity, orders
from dispatch.dispatcher import auto_dispatch
from dispatch.models import Facility, Order, RoomHold
from incidents.models import Report, Status
from tests.dispatch.conftest import (
    CIPONDOH,
    KARAWACI,
    TANGERANG,
    border_pair,
    interior,
    offset,
    report_at,
    supervisor_at,
)

pytestmark = pytest.mark.django_db


def facility(code, lonlat, free=1, rooms=4):
    return Facility.objects.create(
        code=code, name=code.upper(), location=Point(*lonlat, srid=4326), maternity_rooms=rooms, free_rooms=free
    )


@pytest.fixture
def facilities(refdata, city):
    here = interior(city, CIPONDOH)
    return {
        "near_full": facility("rs-penuh", offset(here, 300, 0), free=0),
        "near": facility("rs-dekat", offset(here, 1500, 0), free=1),
        "far": facility("rs-jauh", interior(city, KARAWACI), free=3),
    }


def test_routed_maternity_report_holds_the_nearest_free_room_until_the_operator_decides(
    facilities, city, operator_client
):
    report = report_at(interior(city, CIPONDOH), category="kamar-bersalin")
    auto_dispatch(report.pk, "routed")  # what the routed signal does after commit
    hold = RoomHold.objects.get(report=report)
    assert hold.facility == facilities["near"] and hold.state == "held"  # the nearer one is full
    assert 1400 < hold.distance_m < 1600
    facilities["near"].refresh_from_db()
    assert facilities["near"].free_rooms == 0  # held: nobody else can take it

    # a second mother nearby gets the next facility with a free room
    other = report_at(interior(city, CIPONDOH), category="kamar-bersalin")
    assert maternity.propose(other).facility == facilities["far"]

    # the operator releases the first hold; the room comes back and the next proposal skips it
    r = operator_client.post(f"/api/room-holds/{hold.pk}/release/", {"note": "keluarga pilih lain"}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "released"
    facilities["near"].refresh_from_db()
    assert facilities["near"].free_rooms == 1
    r = operator_client.post(f"/api/reports/{report.public_id}/room/")
    assert r.status_code == 200 and r.json()["facility"]["code"] == "rs-jauh"
    hold2 = RoomHold.objects.get(report=report, state="held")
    r = operator_client.post(f"/api/room-holds/{hold2.pk}/confirm/")
    assert r.status_code == 200 and r.json()["state"] == "confirmed"
    report.refresh_from_db()
    assert report.status == Status.DISPATCHED
    assert report.events.filter(note__contains="kamar bersalin dipesan di RS-JAUH").exists()


def test_no_free_room_anywhere_is_a_clear_409(facilities, city, operator_client):
    Facility.objects.update(free_rooms=0)
    report = report_at(interior(city, CIPONDOH), category="kamar-bersalin")
    r = operator_client.post(f"/api/reports/{report.public_id}/room/")
    assert r.status_code == 409 and "No facility has a free maternity room" in r.json()["detail"]


def test_facility_staff_update_free_rooms_others_cannot(facilities):
    staff = User.objects.create_user("bidan", password="x")
    f = facilities["near"]
    f.staff.add(staff)
    c = APIClient()
    c.force_authenticate(staff)
    r = c.post(f"/api/facilities/{f.pk}/rooms/", {"free_rooms": 3}, format="json")
    assert r.status_code == 200 and r.json()["properties"]["free_rooms"] == 3
    assert c.post(f"/api/facilities/{f.pk}/rooms/", {"free_rooms": 9}, format="json").status_code == 400
    assert c.post(f"/api/facilities/{f.pk}/rooms/", {"free_rooms": -1}, format="json").status_code == 400
    other = facilities["far"]
    assert c.post(f"/api/facilities/{other.pk}/rooms/", {"free_rooms": 0}, format="json").status_code == 403
    assert c.get("/api/facilities/").json()["type"] == "FeatureCollection"


def test_response_times_per_report_and_summary_per_opd_and_kecamatan(refdata, city, operator_client):
    from tests.dispatch.test_orders import phone

    inside = lambda d: border_pair(city, CIPONDOH, TANGERANG, depth_m=d)[1]  # noqa: E731
    sup = supervisor_at(inside(400))
    report = report_at(inside(300))
    created = timezone.now() - timedelta(minutes=50)
    Report.objects.filter(pk=report.pk).update(created_at=created)
    auto_dispatch(report.pk, "routed")
    order = Order.objects.get(report=report)
    phone(sup).post(f"/api/my/orders/{order.pk}/acknowledge/")
    orders.on_site(order.pk, sup)
    late = report_at(interior(city, KARAWACI), category="kemacetan")  # nobody in Karawaci: waits
    Report.objects.filter(pk=late.pk).update(created_at=timezone.now() - timedelta(hours=3))
    auto_dispatch(late.pk, "routed")

    view = operator_client.get(f"/api/reports/{report.public_id}/dispatch/").json()["response_times"]
    ms = view["milestones"]
    assert 49 <= ms["dispatch"]["minutes"] <= 51 and ms["dispatch"]["target_minutes"] == 120  # the category's
    assert ms["acknowledge"]["minutes"] >= 49 and ms["arrive"]["minutes"] >= 49
    assert ms["resolve"]["minutes"] is None
    # acknowledged 50 min after the report against 20 min for normal priority; on site within 60
    assert view["overdue"] == ["acknowledge"]

    r = operator_client.get("/api/stats/response-times/?kecamatan=36.71.05")
    assert r.status_code == 200
    (row,) = [x for x in r.json()["by_opd"] if x["code"] == "dbmsda"]
    assert row["reports"] == 1 and row["dispatch"]["reports"] == 1 and row["arrive"]["reports"] == 1
    assert 49 <= row["dispatch"]["median_minutes"] <= 51
    r = operator_client.get("/api/stats/response-times/")
    kec = {x["code"]: x for x in r.json()["by_kecamatan"]}
    assert kec[KARAWACI]["overdue"] == 1 and kec[KARAWACI]["dispatch"]["reports"] == 0
    assert operator_client.get("/api/stats/response-times/?since=kemarin").status_code == 400
    assert APIClient().get("/api/stats/response-times/").status_code in (401, 403)
