"""The history around a batch: the usual upload asks none (the latest position answers), a resent or
late one asks the history, and the duplicates found are exact."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.contrib.gis.geos import Point
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.tracking.conftest import (
    TANGERANG,
    make_supervisor,
    native,
    pings,
)
from tracking.fixes import Fix, FixBatch, to_us
from tracking.ingest import history
from tracking.models import LatestPosition, Ping

pytestmark = pytest.mark.django_db


def test_a_fresh_upload_asks_no_history_and_the_speed_filter_still_sees_the_last_fix(city, t0):
    sup = make_supervisor()
    assert native(sup, {"pings": pings(t0, 5)}).json()["stored"] == 5
    far = {"time": (t0 + timedelta(seconds=60)).isoformat(), "lat": TANGERANG[1], "lon": TANGERANG[0]}
    with CaptureQueriesContext(connection) as queries:  # 4.7 km in 20 s after the last fix stored
        r = native(sup, {"pings": [far, *pings(t0, 2, start=7)]})
    assert r.json()["dropped"] == [{"index": 0, "reason": "impossible speed"}] and r.json()["stored"] == 2
    assert not [q for q in queries if "FROM tracking_ping" in q["sql"]]  # the latest position answered


def test_a_resent_mock_fix_newer_than_the_position_is_a_duplicate(city, t0, caplog):
    """Mock fixes never move the latest position; `last_mock_at` keeps the newest stored one, so a
    batch resent from it on is checked against the history, not taken as new."""
    sup = make_supervisor()
    first = pings(t0, 2)
    first[1]["mock"] = True
    assert native(sup, {"pings": first}).json()["stored"] == 2
    again = [first[1], *pings(t0, 1, start=2)]
    r = native(sup, {"pings": again})
    assert (r.json()["stored"], r.json()["duplicates"]) == (1, 1)
    assert Ping.objects.count() == 3
    assert "retrying through the staging table" not in caplog.text  # found by the lookup, not the key


def test_duplicates_found_when_the_batch_spans_much_stored_history(city, t0):
    sup = make_supervisor()
    assert native(sup, {"pings": pings(t0, 30)}).json()["stored"] == 30
    # two fixes 290 s apart with 30 stored fixes between them: the exact lookup decides
    r = native(sup, {"pings": pings(t0, 1, start=5) + pings(t0, 1, start=40)})
    assert (r.json()["stored"], r.json()["duplicates"]) == (1, 1)


AT = datetime(2025, 3, 4, 1, 0, tzinfo=UTC)


def batch_at(*seconds) -> FixBatch:
    return FixBatch.from_items([Fix(i, AT + timedelta(seconds=s), -6.18, 106.6) for i, s in enumerate(seconds)])


def test_the_latest_position_answers_only_for_a_batch_newer_than_all_that_is_stored():
    lp = LatestPosition(supervisor_id=1, device_id=7, point=Point(106.6, -6.18, srid=4326), device_time=AT)
    device = SimpleNamespace(pk=7)
    prev, stored = history.from_latest(lp, device, batch_at(10, 20), want_previous=True)
    assert prev == (to_us(AT), 106.6, -6.18) and len(stored) == 0  # the position is the fix before
    assert history.from_latest(lp, device, batch_at(10), want_previous=False)[0] is None
    assert history.from_latest(lp, device, batch_at(86_401), want_previous=True)[0] is None  # a day back at most
    assert history.from_latest(lp, SimpleNamespace(pk=8), batch_at(10), True) is None  # another device's position
    assert history.from_latest(None, device, batch_at(10), True) is None  # no position yet
    assert history.from_latest(lp, device, batch_at(0, 10), True) is None  # not all newer
    lp.last_mock_at = AT + timedelta(seconds=15)
    assert history.from_latest(lp, device, batch_at(10), True) is None  # a newer mock fix is stored
