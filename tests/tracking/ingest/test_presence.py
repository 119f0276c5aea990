"""The presence step: judged from what the lock read, recorded (with a query) only when it changed."""

from datetime import time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.tracking.conftest import make_supervisor, place
from tracking.areas import AssignedArea
from tracking.fixes import FixBatch
from tracking.ingest import presence
from tracking.ingest.upload import Locked, Upload
from tracking.models import Supervisor, TrackingEvent

pytestmark = pytest.mark.django_db


def test_presence_is_recorded_only_when_it_changed(city):
    now = timezone.now()
    made = make_supervisor()
    sup = place(made, now - timedelta(seconds=30))
    upload = Upload(device=made.device, source="test", received_at=now, fixes=FixBatch.from_items([]), rejected=[])
    every_day = [(day, time(0), time(0)) for day in range(7)]
    upload.locked = Locked(sup.pk, "offline", AssignedArea(frozenset({"36.71.05"})), None, every_day, [])
    upload.latest = sup.latest_position
    presence.judge(upload)
    assert Supervisor.objects.get(pk=sup.pk).presence_state == "on_duty"
    assert TrackingEvent.objects.filter(supervisor=sup, kind="presence", new_state="on_duty").count() == 1
    upload.locked.presence_state = "on_duty"
    with CaptureQueriesContext(connection) as queries:
        presence.judge(upload)
    assert len(queries) == 0
