"""The quick, in-process halves of `make faults`: a full disk and a missing Redis answer clearly
(never a 500) and leave nothing half-stored. The long versions run real processes in
loadtest/run_faults.py."""

from __future__ import annotations

import errno
import io

import pytest
from django.core.cache import cache
from django.core.files.storage import FileSystemStorage, storages
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from tests.tracking.conftest import CIPONDOH, make_supervisor

pytestmark = pytest.mark.django_db


class FullDisk(FileSystemStorage):
    """A disk that fills up in the middle of a file: the first KiB is written, then ENOSPC."""

    def _save(self, name, content):
        path = self.path(name)
        import os

        os.makedirs(os.path.dirname(path), exist_ok=True)
        content.seek(0)
        with open(path, "wb") as f:
            f.write(content.read(1024))
        raise OSError(errno.ENOSPC, "No space left on device", path)


@pytest.fixture
def world(city):
    from incidents.bootstrap import bootstrap

    bootstrap(log=lambda m: None)
    cache.clear()


def jpeg() -> io.BytesIO:
    buf = io.BytesIO()
    Image.new("RGB", (400, 300), (10, 120, 200)).save(buf, "JPEG", quality=95)
    buf.seek(0)
    buf.name = "foto.jpg"
    return buf


def test_a_full_disk_is_a_clear_507_and_nothing_is_half_stored(world, settings, tmp_path, monkeypatch):
    from incidents.models import Report, ReportMedia

    settings.MEDIA_ROOT = str(tmp_path)
    disk = FullDisk(location=str(tmp_path))
    monkeypatch.setitem(storages._storages, "default", disk)
    from incidents.models import ReportMedia as RM

    monkeypatch.setattr(RM._meta.get_field("file"), "storage", disk)
    monkeypatch.setattr(RM._meta.get_field("thumbnail"), "storage", disk)
    r = APIClient().post(
        "/api/reports/",
        {"category": "banjir", "lat": CIPONDOH[1], "lon": CIPONDOH[0], "description": "banjir", "files": [jpeg()]},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="disk-full-1",
    )
    assert r.status_code == 507, r.content
    assert "storage" in r.json()["detail"].lower()
    assert Report.objects.count() == 0 and ReportMedia.objects.count() == 0
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_intake_and_pings_work_when_the_channel_layer_is_down(world, settings, django_capture_on_commit_callbacks):
    """Redis gone: the live map cannot be told at once, but the report and the ping are stored and
    answered 2xx (the event stays in the catch-up log for consoles that reconnect)."""
    from console.models import LiveEvent
    from incidents.models import Report
    from tracking.models import Ping

    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:9/0"]}}
    }
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            r = APIClient().post(
                "/api/reports/",
                {"category": "banjir", "lat": CIPONDOH[1], "lon": CIPONDOH[0], "description": "banjir"},
                format="json",
            )
        assert r.status_code == 201, r.content
        sup = make_supervisor()
        with django_capture_on_commit_callbacks(execute=True):
            p = APIClient().post(
                "/api/tracking/pings/",
                {"time": timezone.now().isoformat(), "lat": CIPONDOH[1], "lon": CIPONDOH[0], "accuracy": 5},
                format="json",
                HTTP_AUTHORIZATION=f"Bearer {sup.token}",
                HTTP_X_DEVICE_ID=sup.device.device_id,
            )
        assert p.status_code == 200, p.content
    finally:
        channel_layers.backends.clear()
    assert Report.objects.count() == 1 and Ping.objects.count() == 1
    assert LiveEvent.objects.filter(kind="report").exists()
