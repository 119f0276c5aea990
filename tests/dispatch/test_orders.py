"""Orders from the phone: ownership, idempotency, decline, timeout escalation, on site."""

import io
from datetime import timedelta

import pytest
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from core import jobs
from core.models import Job
from dispatch import settings as ds
from dispatch.exclusions import Exclusion
from dispatch.models import DispatchState, Order, OrderStep
from incidents.models import ReportMedia, Status
from tests.dispatch.conftest import CIPONDOH, TANGERANG, border_pair, phone, ping

pytestmark = pytest.mark.django_db


def inside(city, depth_m):
    return border_pair(city, CIPONDOH, TANGERANG, depth_m=depth_m)[1]


def jpeg() -> io.BytesIO:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(buf, "JPEG")
    buf.seek(0)
    buf.name = "bukti.jpg"
    return buf


def test_my_orders_acknowledge_twice_and_others_order_is_403(offered):
    report, order, first, second = offered
    mine = phone(first).get("/api/my/orders/")
    assert mine.status_code == 200 and [o["id"] for o in mine.json()] == [order.pk]
    assert mine.json()[0]["report"]["public_id"] == report.public_id
    assert phone(second).get("/api/my/orders/").json() == []

    r = phone(second).post(f"/api/my/orders/{order.pk}/acknowledge/")
    assert r.status_code == 403 and "not yours" in r.json()["detail"]

    r1 = phone(first).post(f"/api/my/orders/{order.pk}/acknowledge/", {"lat": -6.18, "lon": 106.68}, format="json")
    r2 = phone(first).post(f"/api/my/orders/{order.pk}/acknowledge/")
    assert r1.status_code == r2.status_code == 200
    assert r2.json()["state"] == "acknowledged"
    assert OrderStep.objects.filter(order=order, kind="acknowledged").count() == 1
    step = OrderStep.objects.get(order=order, kind="acknowledged")
    assert step.point_source == "request" and round(step.point.y, 2) == -6.18
    report.refresh_from_db()
    assert report.status == Status.ACKNOWLEDGED and report.acknowledged_at is not None
    # the acknowledgement timer is gone
    assert not Job.objects.filter(key=f"offer-timeout:{order.pk}", state="pending").exists()


def test_wrong_token_is_401_and_no_supervisor_is_403(offered):
    report, order, first, _ = offered
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Bearer nope", HTTP_X_DEVICE_ID=first.device.device_id)
    assert bad.get("/api/my/orders/").status_code == 401
    assert APIClient().get("/api/my/orders/").status_code in (401, 403)


def test_full_flow_steps_with_positions_hand_note_and_resolve_with_photo(offered):
    from tracking.models import FieldStaff

    report, order, first, _ = offered
    staff = FieldStaff.objects.create(supervisor=first, name="Asep")
    c = phone(first)
    assert c.post(f"/api/my/orders/{order.pk}/resolve/").status_code == 409  # not acknowledged yet
    assert c.post(f"/api/my/orders/{order.pk}/acknowledge/").status_code == 200
    assert c.post(f"/api/my/orders/{order.pk}/en-route/").json()["state"] == "en_route"
    assert c.post(f"/api/my/orders/{order.pk}/hand/", {"field_staff": staff.pk}, format="json").status_code == 200
    r = c.post(f"/api/my/orders/{order.pk}/notes/", {"note": "sedang diperbaiki", "photo": jpeg()}, format="multipart")
    assert r.status_code == 200
    assert c.post(f"/api/my/orders/{order.pk}/resolve/", {"note": "selesai"}, format="multipart").status_code == 400
    r = c.post(f"/api/my/orders/{order.pk}/resolve/", {"note": "selesai", "photo": jpeg()}, format="multipart")
    assert r.status_code == 200 and r.json()["state"] == "resolved"
    kinds = [s["kind"] for s in r.json()["steps"]]
    assert kinds == ["offered", "acknowledged", "en_route", "handed", "note", "resolved"]
    assert all(s["point"] is not None for s in r.json()["steps"])  # each step knows where the supervisor was
    assert r.json()["steps"][-1]["photo"]
    report.refresh_from_db()
    assert report.status == Status.RESOLVED and report.resolved_at is not None
    assert ReportMedia.objects.filter(report=report, kind="photo").count() == 2


def test_resolving_a_cancelled_order_is_409(offered, operator_client):
    report, order, first, _ = offered
    phone(first).post(f"/api/my/orders/{order.pk}/acknowledge/")
    version = operator_client.get(f"/api/reports/{report.public_id}/dispatch/").json()["state"]["version"]
    r = operator_client.post(
        f"/api/reports/{report.public_id}/cancel/",
        {"reason": "warga sudah menangani", "version": version},
        format="json",
    )
    assert r.status_code == 200 and r.json()["state"]["queue"] == "held"
    r = phone(first).post(f"/api/my/orders/{order.pk}/resolve/", {"photo": jpeg()}, format="multipart")
    assert r.status_code == 409 and "cancelled" in r.json()["detail"]
    report.refresh_from_db()
    assert report.status == Status.ROUTED


def test_decline_goes_to_the_next_candidate_and_operators_see_the_escalation(offered):
    report, order, first, second = offered
    r = phone(first).post(f"/api/my/orders/{order.pk}/decline/", {}, format="json")
    assert r.status_code == 400  # a reason is required
    r = phone(first).post(f"/api/my/orders/{order.pk}/decline/", {"reason": "ban bocor"}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "declined"
    nxt = Order.objects.open().get(report=report)
    assert nxt.supervisor_id == second.pk
    st = DispatchState.objects.get(report=report)
    assert st.escalations == 1
    assert report.events.filter(note__startswith="eskalasi", public=False).exists()
    decision = report.dispatch_decisions.first()
    mine = next(c for c in decision.candidates if c["supervisor_id"] == first.pk)
    assert mine["excluded"] == Exclusion.DECLINED and mine["excluded_detail"]["at"]


def test_not_acknowledged_in_time_escalates_once(offered):
    report, order, first, second = offered
    timeout = ds.ack_timeout_s(report.priority)  # per priority, from settings
    job = Job.objects.get(key=f"offer-timeout:{order.pk}")
    assert job.state == "pending" and abs((job.run_at - order.offered_at).total_seconds() - timeout) < 1
    assert jobs.run_due() == 0  # not due yet
    later = timezone.now() + timedelta(seconds=timeout + 1)
    assert jobs.run_one(now=later).pk == job.pk
    order.refresh_from_db()
    assert order.state == "expired"
    nxt = Order.objects.open().get(report=report)
    assert nxt.supervisor_id == second.pk
    assert DispatchState.objects.get(report=report).escalations == 1
    job.refresh_from_db()
    assert job.state == "done" and job.result["outcome"] == "offered"
    # the second offer has its own timer; when it runs out too, nobody is left: awaiting, and the
    # first timer never fires again
    assert jobs.run_due(now=later + timedelta(seconds=timeout)) == 1
    assert Order.objects.filter(report=report, state="expired").count() == 2
    assert OrderStep.objects.filter(order=order, kind="expired").count() == 1
    report.refresh_from_db()
    assert report.status == Status.AWAITING_SUPERVISOR
    assert DispatchState.objects.get(report=report).escalations == 2


def test_timer_for_an_acknowledged_offer_does_nothing(offered):
    report, order, first, _ = offered
    job = Job.objects.get(key=f"offer-timeout:{order.pk}")
    from dispatch import orders

    orders.acknowledge(order.pk, first)
    Job.objects.filter(pk=job.pk).update(state="pending")  # as if the cancel had raced the timer
    jobs.run_due(now=timezone.now() + timedelta(hours=1))
    order.refresh_from_db()
    assert order.state == "acknowledged"
    job.refresh_from_db()
    assert job.result == {"skipped": "acknowledged"}


def test_on_site_detected_from_a_ping_near_the_report(offered, city, django_capture_on_commit_callbacks):
    report, order, first, _ = offered
    from dispatch import orders

    orders.acknowledge(order.pk, first)
    with django_capture_on_commit_callbacks(execute=True):
        ping(first, inside(city, 330), at=timezone.now() + timedelta(seconds=30))  # ~30 m from the report
    order.refresh_from_db()
    assert order.state == "on_site"
    step = order.steps.get(kind="on_site")
    assert step.actor == "ping" and step.data == {"detected": True}
    report.refresh_from_db()
    assert report.arrived_at is not None and report.status == Status.IN_PROGRESS


def test_supervisor_signed_in_with_own_account_sees_and_acknowledges(offered):
    from django.contrib.auth.models import User

    report, order, first, second = offered
    first.user = User.objects.create_user("budi-sigap", password="pw-budi")
    first.save(update_fields=["user"])
    web = APIClient()
    web.force_authenticate(first.user)
    assert [o["id"] for o in web.get("/api/my/orders/").json()] == [order.pk]
    assert web.post(f"/api/my/orders/{order.pk}/acknowledge/").json()["state"] == "acknowledged"
    stranger = APIClient()
    stranger.force_authenticate(User.objects.create_user("bukan-pengawas"))
    assert stranger.get("/api/my/orders/").status_code == 403
