"""Partitions are created ahead and on demand, and dropped by retention (never a DELETE)."""

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection

from tracking import partitions
from tracking.models import Ping

pytestmark = pytest.mark.django_db


def test_create_ahead_and_drop_by_retention(city):
    today = datetime.now(UTC).date()
    partitions.ensure_ahead(ahead_days=3)
    names = set(partitions.existing())
    for d in range(-1, 4):
        assert f"tracking_ping_p{today + timedelta(days=d):%Y%m%d}" in names
    old = today - timedelta(days=30)
    partitions.ensure_days([old, old + timedelta(days=1)])
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO tracking_ping (device_id, supervisor_id, device_time, received_at, point, source)"
            " VALUES (1, 1, %s, now(), ST_SetSRID(ST_MakePoint(106.6, -6.2), 4326), 'test')",
            [datetime.combine(old, datetime.min.time(), UTC) + timedelta(hours=3)],
        )
    assert Ping.objects.count() == 1
    dropped = partitions.drop_older_than(retention_days=29, today=today)
    assert dropped == [f"tracking_ping_p{old:%Y%m%d}"]  # the day after old is exactly at the cutoff: kept
    assert Ping.objects.count() == 0
    assert f"tracking_ping_p{old + timedelta(days=1):%Y%m%d}" in partitions.existing()


def test_partition_bounds_are_utc_days(city):
    partitions.ensure_days([date(2030, 1, 2)])
    with connection.cursor() as cur:
        cur.execute("SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'tracking_ping_p20300102'")
        bound = cur.fetchone()[0]
    assert "2030-01-02" in bound and "2030-01-03" in bound


def test_command(city, capsys):
    call_command("tracking_partitions", "--ahead", "2", "--retention", "400")
    assert "created" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_first_uploads_of_new_days_at_the_same_instant_each_get_the_partition(city):
    """Phones uploading at once into days that have no partition yet: each call answers, the table is made once."""
    days = [date(2031, 3, d) for d in range(1, 6)]
    callers = 12
    start = threading.Barrier(callers)
    errors: list[BaseException] = []
    created: list[int] = []
    partitions.forget()

    def first_upload(offset: int) -> None:
        mine = days[offset % len(days) :] + days[: offset % len(days)]  # overlapping, in other orders
        try:
            start.wait(timeout=30)
            created.append(partitions.ensure_days(mine))  # what an upload's first stage calls
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first_upload, args=(i,)) for i in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sum(created) == len(days) and len(created) == callers
    assert {f"tracking_ping_p{d:%Y%m%d}" for d in days} <= set(partitions.existing())
