"""GEOAPP_RELAY=worker: committed changes reach dispatch and the consoles from the worker, not the request."""

import logging
import subprocess
import sys
from datetime import timedelta

import pytest
from django.db import OperationalError, transaction
from django.utils import timezone

from console.models import LiveEvent
from core import relay
from core.models import PendingSignal
from dispatch.models import Order
from tests.dispatch.conftest import CIPONDOH, interior, offset, ping, report_at, supervisor_at
from tests.dispatch.test_worker import ROOT, worker_env
from tracking.models import LatestPosition
from tracking.signals import POSITION, position_updated, presence_changed


@pytest.fixture
def worker_mode(settings):
    settings.GEOAPP_RELAY = "worker"


@pytest.fixture
def heard():
    seen = []
    position_updated.connect(
        lambda **kw: seen.append(("pos", kw["supervisor_id"], kw["position"].device_time)),
        weak=False,
        dispatch_uid="relay-pos",
    )
    presence_changed.connect(
        lambda **kw: seen.append(("presence", kw["supervisor_id"], kw["new"])), weak=False, dispatch_uid="relay-pr"
    )
    yield seen
    position_updated.disconnect(dispatch_uid="relay-pos")
    presence_changed.disconnect(dispatch_uid="relay-pr")


def test_the_request_only_queues_and_the_worker_dispatches_and_pushes(
    refdata, city, worker_mode, heard, django_capture_on_commit_callbacks
):
    here = interior(city, CIPONDOH)
    with django_capture_on_commit_callbacks(execute=True):
        sup = supervisor_at(here)
        report = report_at(offset(here, east_m=200))
    # stored, and nothing announced yet: no receiver ran in the "request"
    assert heard == []
    assert not Order.objects.filter(report=report).exists()
    assert not LiveEvent.objects.exists()
    topics = list(PendingSignal.objects.order_by("id").values_list("topic", flat=True))
    # the report: filed (received), then routed by intake, each its own change
    assert topics == ["tracking.position", "tracking.presence", "incidents.report", "incidents.report"]

    with django_capture_on_commit_callbacks(execute=True):
        # the four, then the change dispatch itself made (report -> dispatched), queued by the worker
        assert relay.drain() == 5
    assert ("pos", sup.pk, LatestPosition.objects.get(pk=sup.pk).device_time) in heard
    assert ("presence", sup.pk, "on_duty") in heard
    order = Order.objects.get(report=report)
    assert order.supervisor_id == sup.pk and order.state == "offered"
    kinds = set(LiveEvent.objects.values_list("kind", flat=True))
    assert {"position", "presence", "report"} <= kinds
    assert PendingSignal.objects.count() == 0
    assert relay.drain() == 0


def test_positions_of_one_supervisor_coalesce_into_one_delivery_of_the_newest(
    refdata, city, worker_mode, heard, django_capture_on_commit_callbacks
):
    here = interior(city, CIPONDOH)
    now = timezone.now().replace(microsecond=0)
    sup = supervisor_at(here, age_s=40)
    for k in (30, 20, 10):
        ping(sup, offset(here, east_m=k), at=now - timedelta(seconds=k))
    assert PendingSignal.objects.filter(topic=POSITION).count() == 4
    with django_capture_on_commit_callbacks(execute=True):
        relay.drain()
    positions = [h for h in heard if h[0] == "pos"]
    assert positions == [("pos", sup.pk, now - timedelta(seconds=10))]
    assert LiveEvent.objects.filter(kind="position", key=str(sup.pk)).count() == 1


def test_a_batch_reads_its_supervisors_positions_in_one_query(
    refdata, city, worker_mode, heard, django_capture_on_commit_callbacks
):
    """The position topic's prepare: one query for every supervisor in the claimed batch; each
    delivery still announces that supervisor's own newest position, with its OPD."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    here = interior(city, CIPONDOH)
    now = timezone.now().replace(microsecond=0)
    sups = [supervisor_at(offset(here, east_m=30 * i), age_s=60) for i in range(5)]
    for i, sup in enumerate(sups):
        ping(sup, offset(here, east_m=30 * i, north_m=20), at=now - timedelta(seconds=i))
    seen_opd = []
    position_updated.connect(
        lambda **kw: seen_opd.append((kw["supervisor_id"], kw["supervisor"].opd.code)), weak=False, dispatch_uid="opd"
    )
    try:
        with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
            relay.deliver_batch(50)
    finally:
        position_updated.disconnect(dispatch_uid="opd")
    reads = [q["sql"] for q in queries if 'FROM "tracking_latestposition"' in q["sql"] and "INNER JOIN" in q["sql"]]
    assert len(reads) == 1, reads
    got = sorted(h for h in heard if h[0] == "pos")
    assert got == sorted(("pos", sup.pk, now - timedelta(seconds=i)) for i, sup in enumerate(sups))
    assert sorted(seen_opd) == sorted((sup.pk, "dbmsda") for sup in sups)


def test_a_rolled_back_change_is_never_announced(refdata, city, worker_mode):
    here = interior(city, CIPONDOH)
    sup = supervisor_at(here)
    before = PendingSignal.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        ping(sup, offset(here, north_m=30))
        report_at(here)
        raise RuntimeError("the request failed after writing")
    assert PendingSignal.objects.count() == before


def test_a_failing_deliverer_is_logged_and_the_queue_moves_on(refdata, city, worker_mode, heard, caplog):
    @relay.topic("test.boom")
    def boom(key, data):
        raise ValueError("receiver bug")

    try:
        relay.send("test.boom", 1, {}, inline=lambda: None)
        sup = supervisor_at(interior(city, CIPONDOH))
        with caplog.at_level(logging.ERROR, logger="core.relay"):
            assert relay.drain() == 3
        assert "announcing test.boom 1 failed" in caplog.text
        assert ("presence", sup.pk, "on_duty") in heard
        assert PendingSignal.objects.count() == 0
    finally:
        relay.TOPICS.pop("test.boom", None)


def test_a_lost_connection_keeps_the_change_for_after_the_reconnect(refdata, city, worker_mode):
    @relay.topic("test.gone")
    def gone(key, data):
        raise OperationalError("server closed the connection unexpectedly")

    try:
        relay.send("test.gone", 7, {"n": 1}, inline=lambda: None)
        with pytest.raises(OperationalError):
            relay.drain()
        assert list(PendingSignal.objects.values_list("topic", "key", "data")) == [("test.gone", "7", {"n": 1})]
    finally:
        relay.TOPICS.pop("test.gone", None)


def test_inline_mode_writes_no_row(refdata, city, settings):
    settings.GEOAPP_RELAY = "inline"
    supervisor_at(interior(city, CIPONDOH))
    assert PendingSignal.objects.count() == 0
    settings.GEOAPP_RELAY = "sideways"
    with pytest.raises(ValueError, match="GEOAPP_RELAY"):
        relay.mode()


@pytest.mark.django_db(transaction=True)
def test_the_worker_wakes_on_notify_and_its_command_delivers(worker_mode):
    from tests.conftest import ensure_city

    ensure_city()
    from incidents.bootstrap import bootstrap
    from kecamatan_boundaries.models import Kecamatan

    bootstrap(log=lambda m: None)
    waiter = relay.Waiter()
    try:
        assert waiter.wait(0.05) is False  # listening, nothing sent
        city = {k.code: k for k in Kecamatan.objects.current()}
        sup = supervisor_at(interior(city, CIPONDOH))  # commits: the NOTIFY goes out
        assert waiter.wait(30) is True
    finally:
        waiter.close()
    assert PendingSignal.objects.filter(key=str(sup.pk)).count() == 2
    env = worker_env() | {"GEOAPP_RELAY": "worker"}
    done = subprocess.run(
        [sys.executable, "manage.py", "run_worker", "--once", "--no-sweep"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert PendingSignal.objects.count() == 0
    assert LiveEvent.objects.filter(kind="position", key=str(sup.pk)).exists()
    assert LiveEvent.objects.filter(kind="presence", key=str(sup.pk)).exists()


def test_system_check_warns_when_the_worker_could_not_reach_consoles(settings):
    from core.apps import check_relay

    settings.GEOAPP_RELAY = "worker"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    assert [m.id for m in check_relay()] == ["core.W001"]
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {}}}
    assert check_relay() == []
    settings.GEOAPP_RELAY = "later"
    assert [m.id for m in check_relay()] == ["core.E001"]


def test_a_burst_reaches_the_consoles_as_one_message_of_ordered_events(refdata, city, worker_mode, settings):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from console import live

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(live.GROUP, channel)
    here = interior(city, CIPONDOH)
    sups = [supervisor_at(offset(here, east_m=40 * i)) for i in range(5)]
    assert relay.drain() == 10  # five positions and five presence changes, one batch
    got = async_to_sync(layer.receive)(channel)
    assert got["type"] == "live.batch"
    seqs = [e["seq"] for e in got["events"]]
    assert seqs == sorted(seqs) and len(seqs) == 10
    assert {e["key"] for e in got["events"]} == {str(s.pk) for s in sups}
    assert list(LiveEvent.objects.order_by("id").values_list("id", flat=True)) == seqs


def test_on_site_from_a_ping_is_detected_by_the_worker(refdata, city, worker_mode):
    from dispatch import orders
    from tests.dispatch.conftest import TANGERANG, border_pair

    def inside(depth_m):
        return border_pair(city, CIPONDOH, TANGERANG, depth_m=depth_m)[1]

    first = supervisor_at(inside(400))
    report = report_at(inside(300))
    relay.drain()
    order = Order.objects.get(report=report)  # dispatched by the worker
    assert order.supervisor_id == first.pk
    orders.acknowledge(order.pk, first)
    ping(first, inside(330), at=timezone.now() + timedelta(seconds=30))  # ~30 m from the report
    order.refresh_from_db()
    assert order.state == "acknowledged"  # the request only stored the ping
    relay.drain()
    order.refresh_from_db()
    assert order.state == "on_site"
    assert order.steps.get(kind="on_site").actor == "ping"


def test_a_report_and_a_supervisor_coming_on_duty_in_one_batch_end_up_dispatched(refdata, city, worker_mode):
    here = interior(city, CIPONDOH)
    report = report_at(offset(here, east_m=100))  # nobody of the OPD is around yet
    sup = supervisor_at(here)  # then one comes on duty nearby: both wait for the same batch
    assert PendingSignal.objects.count() == 4
    relay.drain()
    report.refresh_from_db()
    order = Order.objects.get(report=report)
    assert order.supervisor_id == sup.pk and order.state == "offered"


def test_a_waiting_report_goes_to_the_supervisor_the_worker_sees_come_on_duty(refdata, city, worker_mode):
    here = interior(city, CIPONDOH)
    report = report_at(offset(here, east_m=100))
    relay.drain()
    report.refresh_from_db()
    assert report.status == "awaiting_supervisor" and not Order.objects.filter(report=report).exists()
    sup = supervisor_at(here)  # comes on duty nearby: only the worker acts on it
    assert not Order.objects.filter(report=report).exists()
    relay.drain()
    order = Order.objects.get(report=report)
    assert order.supervisor_id == sup.pk and order.state == "offered"
