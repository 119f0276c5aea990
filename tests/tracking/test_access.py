"""Who sees supervisors and attendance: each role, over the API (rules in tracking/access.py)."""

from datetime import date, time, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.tracking.conftest import CIPONDOH, make_supervisor, user_with_role
from tracking import attendance

pytestmark = pytest.mark.django_db

SUPERVISORS = "/api/tracking/supervisors/"
TUESDAY = date(2025, 3, 4)
ATTENDANCE = f"/api/tracking/attendance/?date={TUESDAY}"


@pytest.fixture
def crew(city):
    """Two supervisors (one linked to a login) with phones, a fix each and a Tuesday shift."""
    budi = make_supervisor("Budi", phone="+62 812 1111 2222", shifts=[(1, time(8), time(16))])
    siti = make_supervisor("Siti", opd="dkp", phone="+62 813 3333 4444", shifts=[(1, time(8), time(16))])
    budi.user = user_with_role("supervisor", "budi")
    budi.save(update_fields=["user"])
    t = timezone.now().replace(microsecond=0) - timedelta(seconds=30)
    for sup in (budi, siti):
        r = APIClient().post(
            "/api/tracking/pings/",
            {"time": t.isoformat(), "lat": CIPONDOH[1], "lon": CIPONDOH[0]},
            format="json",
            HTTP_AUTHORIZATION=f"Bearer {sup.token}",
            HTTP_X_DEVICE_ID=sup.device.device_id,
        )
        assert r.status_code == 200
    attendance.compute_day(TUESDAY)
    return budi, siti


def as_user(user) -> APIClient:
    api = APIClient()
    if user is not None:
        api.force_authenticate(user)
    return api


def names(response) -> list[str]:
    return sorted(f["properties"]["name"] for f in response.json()["features"])


@pytest.mark.parametrize("role", ["operator", "admin"])
def test_operators_and_admins_see_everyone_with_phone_numbers(crew, role):
    r = as_user(user_with_role(role)).get(SUPERVISORS)
    assert r.status_code == 200 and names(r) == ["Budi", "Siti"]
    phones = sorted(f["properties"]["phone"] for f in r.json()["features"])
    assert phones == ["+62 812 1111 2222", "+62 813 3333 4444"]
    rows = as_user(user_with_role(role, f"{role}-2")).get(ATTENDANCE).json()
    assert sorted(row["supervisor"] for row in rows) == ["Budi", "Siti"]


def test_a_supervisor_sees_only_themself_without_personal_data(crew):
    budi, _ = crew
    api = as_user(budi.user)
    r = api.get(SUPERVISORS)
    assert r.status_code == 200 and names(r) == ["Budi"]
    assert r.json()["features"][0]["properties"]["phone"] is None  # phone numbers: operators/admins only
    assert names(api.get(SUPERVISORS, {"opd": "dkp"})) == []  # filters cannot widen the view
    rows = api.get(ATTENDANCE).json()
    assert [row["supervisor"] for row in rows] == ["Budi"]
    month = api.get("/api/tracking/attendance/?month=2025-03").json()
    assert [row["supervisor"] for row in month] == ["Budi"]
    r = api.get(ATTENDANCE + "&recompute=1")
    assert r.status_code == 403 and "recompute" in r.json()["detail"]


def test_planners_see_all_attendance_but_not_the_live_map(crew):
    api = as_user(user_with_role("planner"))
    r = api.get(SUPERVISORS)
    assert r.status_code == 403 and "operators and admins" in r.json()["detail"]
    rows = api.get(ATTENDANCE).json()
    assert sorted(row["supervisor"] for row in rows) == ["Budi", "Siti"]
    assert all("phone" not in row for row in rows)


@pytest.mark.parametrize("role", [None, "citizen", "gis_staff", "supervisor"])
def test_other_signed_in_users_are_refused(crew, role):
    # "supervisor" here is a user in the group but linked to no supervisor row
    api = as_user(user_with_role(role))
    assert api.get(SUPERVISORS).status_code == 403
    assert api.get(ATTENDANCE).status_code == 403


def test_anonymous_is_refused(crew):
    for url in (SUPERVISORS, ATTENDANCE, ATTENDANCE + "&format=csv"):
        r = APIClient().get(url)
        assert r.status_code in (401, 403) and "sign in" in r.content.decode()
