"""The lock: uploads of one supervisor queue up and see each other's work; the device's right to send
is re-checked under it (behind the auth cache); `last_seen_at` is stamped at most once a minute."""

import threading
import time as clock
from datetime import timedelta

import psycopg
import pytest
from django.db import connection, connections
from django.utils import timezone

from tests.conftest import ensure_city
from tests.tracking.conftest import (
    CIPONDOH,
    make_supervisor,
    native,
    pings,
)
from tracking.auth import RevokedDevice, UnknownDevice
from tracking.fixes import Fix, FixBatch
from tracking.ingest import lock
from tracking.ingest.pipeline import ingest
from tracking.ingest.upload import Upload
from tracking.models import Device, LatestPosition, Ping, Supervisor, hash_token


def test_revocation_and_new_token_take_effect_behind_the_auth_cache(city, t0):
    sup = make_supervisor()
    assert native(sup, {"pings": pings(t0, 1)}).status_code == 200  # now cached in this process
    # Revoked by another process (no signal reaches this one): refused at once under the lock.
    Device.objects.filter(pk=sup.device.pk).update(revoked_at=timezone.now())
    r = native(sup, {"pings": pings(t0, 1, start=1)})
    assert r.status_code == 403 and "revoked" in r.json()["detail"]
    Device.objects.filter(pk=sup.device.pk).update(revoked_at=None)
    assert native(sup, {"pings": pings(t0, 1, start=2)}).status_code == 200
    # A new token issued elsewhere: the old one is refused, the new one works at once.
    Device.objects.filter(pk=sup.device.pk).update(token_hash=hash_token("fresh-token"))
    assert native(sup, {"pings": pings(t0, 1, start=3)}).status_code == 401
    assert native(sup, {"pings": pings(t0, 1, start=4)}, token="fresh-token").status_code == 200
    assert Ping.objects.count() == 3


def test_a_devices_last_seen_is_stamped_at_most_once_a_minute(city, t0):
    sup = make_supervisor()
    assert native(sup, {"pings": pings(t0, 1)}).status_code == 200
    first = Device.objects.get(pk=sup.device.pk).last_seen_at
    assert first is not None and timezone.now() - first < timedelta(minutes=1)
    assert native(sup, {"pings": pings(t0, 1, start=1)}).status_code == 200
    assert Device.objects.get(pk=sup.device.pk).last_seen_at == first  # no row written this time
    Device.objects.filter(pk=sup.device.pk).update(last_seen_at=first - timedelta(seconds=61))
    assert native(sup, {"pings": pings(t0, 1, start=2)}).status_code == 200
    assert Device.objects.get(pk=sup.device.pk).last_seen_at > first


def upload_of(device) -> Upload:
    return Upload(device=device, source="test", received_at=timezone.now(), fixes=FixBatch.from_items([]), rejected=[])


@pytest.mark.django_db
def test_the_locked_position_reads_as_the_orm_reads_it(city, t0):
    """The position read with the lock is the model instance a query makes (`Model.from_db`)."""
    assert list(lock.LATEST_FIELDS) == [f.attname for f in LatestPosition._meta.concrete_fields]
    sup = make_supervisor()
    assert native(sup, {"pings": [{**pings(t0, 1)[0], "accuracy": 7, "battery": 55}]}).status_code == 200
    upload = upload_of(sup.device)
    lock.lock(upload)
    got, want = upload.locked.latest, LatestPosition.objects.get(pk=sup.pk)
    for f in LatestPosition._meta.concrete_fields:
        if f.name == "point":
            assert (got.point.coords, got.point.srid) == (want.point.coords, 4326)
        else:
            assert getattr(got, f.attname) == getattr(want, f.attname), f.name
    assert got.supervisor == sup and got.device == sup.device
    locked = upload.locked
    assert (locked.supervisor_id, locked.area.kecamatan_codes, len(locked.weekly)) == (sup.pk, {"36.71.05"}, 7)


@pytest.mark.django_db
def test_a_device_without_the_right_to_send_is_refused_under_the_lock(city):
    sup = make_supervisor()
    device = sup.device
    upload = upload_of(device)
    lock.lock(upload)
    assert upload.locked.supervisor_id == sup.pk and upload.locked.latest is None  # no position yet
    Supervisor.objects.filter(pk=sup.pk).update(active=False)
    with pytest.raises(RevokedDevice, match="no longer active"):
        lock.lock(upload_of(device))
    Device.objects.filter(pk=device.pk).update(revoked_at=timezone.now())
    with pytest.raises(RevokedDevice, match="revoked"):
        lock.lock(upload_of(device))
    Device.objects.filter(pk=device.pk).delete()
    with pytest.raises(UnknownDevice):
        lock.lock(upload_of(device))


def fix(at, lon_lat=CIPONDOH):
    return Fix(index=0, time=at, lat=lon_lat[1], lon=lon_lat[0], accuracy=8.0)


@pytest.mark.django_db(transaction=True)
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
    clock.sleep(1.0)
    assert worker.is_alive(), "the second upload should wait for the first's lock"
    other.commit()
    other.close()
    worker.join(timeout=30)
    assert done["result"].stored == [0]
    assert Ping.objects.filter(device_id=sup.device.pk).count() == 2  # the history takes every accepted fix
    assert LatestPosition.objects.get(pk=sup.pk).device_time == t0 + timedelta(seconds=20)  # never backwards
