"""Two uploads for one supervisor at once: the second waits for the first's lock, then sees its work."""

import threading
import time
from datetime import timedelta

import psycopg
import pytest
from django.db import connection, connections
from django.utils import timezone

from tests.conftest import ensure_city
from tests.tracking.conftest import CIPONDOH, make_supervisor
from tracking.models import LatestPosition, Ping
from tracking.pipeline import ingest
from tracking.protocols import Fix

pytestmark = pytest.mark.django_db(transaction=True)


def fix(at, lon_lat=CIPONDOH):
    return Fix(index=0, time=at, lat=lon_lat[1], lon=lon_lat[0], accuracy=8.0)


def test_an_upload_that_waited_for_the_lock_does_not_move_the_latest_position_back():
    ensure_city()
    sup = make_supervisor()
    t0 = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
    ingest(sup.device, [fix(t0)], "test")
    # Another upload of this supervisor holds the lock and has moved the latest position to t0+20 s,
    # not yet committed (a raw connection plays it, so it can pause at exactly that point).
    other = psycopg.connect(**{k: v for k, v in connection.get_connection_params().items() if k != "cursor_factory"})
    other.execute("SELECT 1 FROM tracking_supervisor WHERE id = %s FOR UPDATE", [sup.pk])
    other.execute(
        "UPDATE tracking_latestposition SET device_time = %s WHERE supervisor_id = %s",
        [t0 + timedelta(seconds=20), sup.pk],
    )
    done = {}

    def late_upload():  # a fix from t0+10 s: newer than what was committed before, older than the other's
        try:
            done["result"] = ingest(sup.device, [fix(t0 + timedelta(seconds=10))], "test")
        finally:
            connections.close_all()

    worker = threading.Thread(target=late_upload)
    worker.start()
    time.sleep(1.0)
    assert worker.is_alive(), "the second upload should wait for the first's lock"
    other.commit()
    other.close()
    worker.join(timeout=30)
    assert done["result"].stored == [0]
    assert Ping.objects.filter(device_id=sup.device.pk).count() == 2  # the history takes every accepted fix
    assert LatestPosition.objects.get(pk=sup.pk).device_time == t0 + timedelta(seconds=20)  # never backwards
