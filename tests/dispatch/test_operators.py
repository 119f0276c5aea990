"""The operators' actions on a report's dispatch: re-assign with a version, refer, the queue, who may act."""

import pytest
from rest_framework.test import APIClient

from dispatch import dispatcher
from dispatch.models import Order
from incidents.models import Report, Status
from tests.dispatch.conftest import CIPONDOH, TANGERANG, border_pair, phone, report_at, supervisor_at

pytestmark = pytest.mark.django_db


def inside(city, depth_m):
    return border_pair(city, CIPONDOH, TANGERANG, depth_m=depth_m)[1]


def test_two_reassigns_with_one_version_the_second_is_told(offered, operator_client):
    report, order, first, second = offered
    version = operator_client.get(f"/api/reports/{report.public_id}/dispatch/").json()["state"]["version"]
    url = f"/api/reports/{report.public_id}/reassign/"
    r1 = operator_client.post(
        url, {"reason": "lebih dekat", "version": version, "supervisor": second.pk}, format="json"
    )
    assert r1.status_code == 200
    r2 = operator_client.post(url, {"reason": "saya juga", "version": version}, format="json")
    assert r2.status_code == 409 and "changed since you looked" in r2.json()["detail"]
    assert Order.objects.open().get(report=report).supervisor_id == second.pk
    order.refresh_from_db()
    assert order.state == "reassigned"


def test_refer_to_another_opd_dispatches_there(offered, operator_client, city):
    report, order, first, _ = offered
    dkp = supervisor_at(inside(city, 500), opd="dkp")

    r = operator_client.post(
        f"/api/reports/{report.public_id}/refer/",
        {"reason": "pohon, bukan jalan", "category": "pohon-tumbang"},
        format="json",
    )
    assert r.status_code == 200
    report.refresh_from_db()
    assert report.opd.code == "dkp" and report.status == Status.ROUTED
    order.refresh_from_db()
    assert order.state == "cancelled"
    dispatcher.auto_dispatch(report.pk, "routed")  # what the routed signal does after commit
    assert Order.objects.open().get(report=report).supervisor_id == dkp.pk


def test_operator_endpoints_refuse_non_operators(offered):
    report, order, first, _ = offered
    assert APIClient().post(f"/api/reports/{report.public_id}/dispatch/").status_code in (401, 403)
    assert phone(first).get(f"/api/reports/{report.public_id}/dispatch/").status_code in (401, 403)


def test_queue_shows_awaiting_with_reason(refdata, city, operator_client):
    report = report_at(inside(city, 300))
    dispatcher.dispatch(report, trigger="test")
    r = operator_client.get("/api/dispatch/queue/")
    row = next(x for x in r.json()["results"] if x["report"] == report.public_id)
    assert row["queue"] == "awaiting" and "no DBMSDA supervisor" in row["reason"]
    assert Report.objects.get(pk=report.pk).status == Status.AWAITING_SUPERVISOR


def test_an_operator_cannot_close_a_report_a_supervisor_holds(offered, operator_client, city):
    """Resolve, reject and merge are refused (409, naming who holds it) until the order is cancelled."""
    report, order, first, _ = offered
    original = report_at(inside(city, 300))
    base = f"/api/reports/{report.public_id}"
    attempts = [
        (f"{base}/status/", {"status": "resolved", "note": "sudah"}),
        (f"{base}/status/", {"status": "rejected", "note": "bukan laporan"}),
        (f"{base}/merge/", {"original": original.public_id, "note": "sama"}),
    ]
    for url, body in attempts:
        r = operator_client.post(url, body, format="json")
        assert r.status_code == 409, (url, body, r.content)
        assert first.name in r.json()["detail"] and "batalkan penugasan dulu" in r.json()["detail"]
    report.refresh_from_db()
    assert report.status == Status.DISPATCHED
    assert Order.objects.open().get(report=report).pk == order.pk

    cancelled = operator_client.post(f"{base}/cancel/", {"reason": "salah kategori"}, format="json")
    assert cancelled.status_code == 200, cancelled.content
    resolved = operator_client.post(f"{base}/status/", {"status": "rejected", "note": "bukan laporan"}, format="json")
    assert resolved.status_code == 200, resolved.content
    report.refresh_from_db()
    assert report.status == Status.REJECTED
