"""The pipeline as a whole: its stages in order, bad pings named by index while the good ones are
stored, the upload's small statements prepared and planned once."""

from datetime import timedelta

import pytest
from django.db import connection

from tests.tracking.conftest import (
    CIPONDOH,
    TANGERANG,
    make_supervisor,
    native,
    pings,
)
from tracking.ingest import pipeline
from tracking.models import DropCount, Ping

pytestmark = pytest.mark.django_db


def stage_names(stages) -> list[str]:
    return [f"{s.__module__.rsplit('.', 1)[-1]}.{s.__name__}" for s in stages]


def test_the_stages_in_order():
    assert stage_names(pipeline.BEFORE_LOCK) == ["filters.per_fix", "filters.in_time_order", "store.ensure_partitions"]
    assert stage_names(pipeline.UNDER_LOCK) == [
        "lock.lock", "history.read", "filters.impossible_speed", "filters.already_stored", "enrich.enrich",
        "store.copy_rows", "store.count_drops", "latest.advance", "events.record", "presence.judge",
    ]  # fmt: skip


def test_each_stage_passes_the_fixes_on_or_drops_some_with_a_reason(city, t0, monkeypatch):
    seen = []

    def watched(stage):
        def run(upload):
            stage(upload)
            seen.append((stage.__name__, upload.fixes.index.tolist()))

        return run

    monkeypatch.setattr(pipeline, "BEFORE_LOCK", [watched(s) for s in pipeline.BEFORE_LOCK])
    monkeypatch.setattr(pipeline, "UNDER_LOCK", [watched(s) for s in pipeline.UNDER_LOCK])
    sup = make_supervisor()
    near = pings(t0, 3)
    zero = {"time": (t0 + timedelta(seconds=5)).isoformat(), "lat": 0, "lon": 0}
    far = {"time": (t0 + timedelta(seconds=25)).isoformat(), "lat": TANGERANG[1], "lon": TANGERANG[0]}  # 4.7 km in 5 s
    r = native(sup, {"pings": [near[2], near[0], zero, near[0], far, near[1]]})
    assert r.status_code == 200
    assert r.json() == {
        "stored": 3, "duplicates": 1, "mock": 0, "rejected": [],
        "dropped": [{"index": 2, "reason": "zero coordinates"}, {"index": 4, "reason": "impossible speed"}],
    }  # fmt: skip
    assert seen == [
        ("per_fix", [0, 1, 3, 4, 5]), ("in_time_order", [1, 5, 0, 4]), ("ensure_partitions", [1, 5, 0, 4]),
        ("lock", [1, 5, 0, 4]), ("read", [1, 5, 0, 4]), ("impossible_speed", [1, 5, 0]), ("already_stored", [1, 5, 0]),
        ("enrich", [1, 5, 0]), ("copy_rows", [1, 5, 0]), ("count_drops", [1, 5, 0]), ("advance", [1, 5, 0]),
        ("record", [1, 5, 0]), ("judge", [1, 5, 0]),
    ]  # fmt: skip
    counted = dict(DropCount.objects.filter(device=sup.device).values_list("reason", "count"))
    assert counted == {"zero coordinates": 1, "impossible speed": 1, "duplicate": 1}


def test_batch_with_bad_pings_stores_good_ones_and_names_bad_by_index(client, supervisor, t0):
    good = {"time": t0.isoformat(), "lat": CIPONDOH[1], "lon": CIPONDOH[0]}
    body = {
        "pings": [
            good,
            {"time": t0.isoformat(), "lat": 95, "lon": 106.6},
            {"time": (t0 + timedelta(seconds=5)).isoformat(), "lat": -6.18, "lon": "abc"},
            {"time": "2099-01-01T00:00:00Z", "lat": -6.18, "lon": 106.68},
            {"time": (t0 + timedelta(seconds=20)).isoformat(), "lat": 0, "lon": 0},
            "not a ping",
            {"time": (t0 + timedelta(seconds=30)).isoformat(), "lat": CIPONDOH[1], "lon": CIPONDOH[0]},
        ]
    }
    r = native(supervisor, body)
    assert r.status_code == 200
    out = r.json()
    assert out["stored"] == 2
    reasons = {p["index"]: p["reason"] for p in out["dropped"] + out["rejected"]}
    assert reasons[1] == "invalid coordinates"
    assert "lon must be a number" in reasons[2]
    assert reasons[3] == "future timestamp"
    assert reasons[4] == "zero coordinates"
    assert "object" in reasons[5]
    assert Ping.objects.count() == 2


def test_the_uploads_small_statements_are_prepared_on_the_server(city, t0):
    """core/prepared.py asks psycopg to prepare the lock, latest-position and relay statements;
    Django turns preparing off unless settings give psycopg a threshold (without one, every upload
    parses and plans them anew). After two uploads PostgreSQL holds them prepared."""
    sup = make_supervisor(name="Prepared")
    assert native(sup, {"pings": pings(t0, 5)}).status_code == 200
    assert native(sup, {"pings": pings(t0, 5, start=5)}).status_code == 200
    with connection.cursor() as cur:
        cur.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        prepared = [row[0] for row in cur.fetchall()]
    assert any("FOR UPDATE OF s\n" in s for s in prepared), prepared  # the first upload's lock
    assert any("FOR UPDATE OF s, lp" in s for s in prepared), prepared  # the lock with the position
    assert any("UPDATE tracking_latestposition SET" in s for s in prepared), prepared


def test_the_uploads_prepared_statements_are_planned_once(city, t0):
    """Left to choose, PostgreSQL plans the latest position's UPDATE anew for at least its first
    five runs on a connection (0.2 ms a run, and in the bench it may go on choosing custom plans);
    settings ask for the generic plan, made once per connection."""
    sup = make_supervisor(name="Planned")
    for k in range(7):  # PostgreSQL weighs a generic plan only after five custom ones
        assert native(sup, {"pings": pings(t0, 3, start=3 * k)}).status_code == 200
    with connection.cursor() as cur:
        cur.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE NOT from_sql AND statement LIKE %s",
            ["%UPDATE tracking_latestposition SET%"],
        )
        plans = cur.fetchall()
    assert plans and all(custom == 0 and generic >= 6 for generic, custom in plans), plans
