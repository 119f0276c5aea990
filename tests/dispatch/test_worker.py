"""The worker: a crash in the middle of an escalation, then a restart: the timer fires, once."""

import os
import subprocess
import sys
import urllib.parse
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from core.models import Job
from dispatch import dispatcher
from dispatch.models import Order, OrderStep
from tests.conftest import ensure_city
from tests.dispatch.conftest import CIPONDOH, TANGERANG, border_pair, report_at, supervisor_at

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]

CRASHING_WORKER = """
import os, signal, django
django.setup()
from core import jobs

def crash(job):  # the escalation ran, its transaction is not committed yet: die like a kill -9
    os.kill(os.getpid(), signal.SIGKILL)

jobs.after_run = crash
from django.core.management import call_command
call_command("run_worker", "--once", "--no-sweep")
"""


def worker_env() -> dict:
    db = connection.settings_dict
    host = urllib.parse.quote(db["HOST"] or "", safe="")
    env = dict(os.environ)
    env["DATABASE_URL"] = f"postgres://{db['USER']}@{host}/{db['NAME']}"
    env["DJANGO_SETTINGS_MODULE"] = "geoapp.settings"
    return env


def test_worker_killed_mid_escalation_then_restarted_fires_the_timer_once(transactional_db, quiet):
    ensure_city()
    from incidents.bootstrap import bootstrap
    from kecamatan_boundaries.models import Kecamatan

    bootstrap(log=lambda m: None)
    city = {k.code: k for k in Kecamatan.objects.current()}
    first = supervisor_at(border_pair(city, CIPONDOH, TANGERANG, depth_m=350)[1])
    second = supervisor_at(border_pair(city, CIPONDOH, TANGERANG, depth_m=700)[1])
    report = report_at(border_pair(city, CIPONDOH, TANGERANG, depth_m=300)[1])
    dispatcher.dispatch(report.pk, trigger="test")
    order = Order.objects.get(report=report, supervisor=first)
    Job.objects.filter(key=f"offer-timeout:{order.pk}").update(run_at=timezone.now() - timedelta(seconds=1))

    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_WORKER], cwd=ROOT, env=worker_env(), capture_output=True, timeout=120
    )
    assert crashed.returncode == -9, crashed.stderr.decode()[-2000:]
    order.refresh_from_db()
    assert order.state == "offered"  # the half-done escalation was rolled back with the crash
    assert Job.objects.get(key=f"offer-timeout:{order.pk}").state == "pending"

    restarted = subprocess.run(
        [sys.executable, "manage.py", "run_worker", "--once", "--no-sweep"],
        cwd=ROOT,
        env=worker_env(),
        capture_output=True,
        timeout=120,
    )
    assert restarted.returncode == 0, restarted.stderr.decode()[-2000:]
    again = subprocess.run(
        [sys.executable, "manage.py", "run_worker", "--once", "--no-sweep"], cwd=ROOT, env=worker_env(), timeout=120
    )
    assert again.returncode == 0

    order.refresh_from_db()
    assert order.state == "expired"
    assert OrderStep.objects.filter(order=order, kind="expired").count() == 1
    job = Job.objects.get(key=f"offer-timeout:{order.pk}")
    assert job.state == "done" and job.attempts == 1
    assert Order.objects.open().get(report=report).supervisor_id == second.pk
    assert Order.objects.filter(report=report).count() == 2


def test_database_connection_lost_fails_cleanly_and_a_retry_works(transactional_db):
    """As after a database restart: the server-side session is gone under a kept connection."""
    import psycopg
    from rest_framework.test import APIClient

    from tests.tracking.conftest import make_supervisor

    ensure_city()
    sup = make_supervisor(name="Restart", opd="dbmsda")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {sup.token}", HTTP_X_DEVICE_ID=sup.device.device_id)
    assert client.get("/api/my/orders/").status_code == 200
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    db = connection.settings_dict
    with psycopg.connect(host=db["HOST"], user=db["USER"], dbname=db["NAME"], autocommit=True) as killer:
        killer.execute("SELECT pg_terminate_backend(%s)", [pid])

    failed = client.get("/api/my/orders/")
    assert failed.status_code == 503 and failed.headers["Retry-After"] == "2"
    assert "retry" in failed.json()["detail"]
    assert client.get("/api/my/orders/").status_code == 200  # the retry reconnects


def test_worker_survives_a_lost_connection_and_runs_the_due_timer(transactional_db):
    import psycopg
    from django.core.management import call_command

    from core import jobs

    ran = []
    jobs.HANDLERS["test_touch"] = lambda payload: ran.append(payload["n"]) or {"ok": True}
    try:
        job = jobs.schedule("test_touch", timezone.now() - timedelta(seconds=1), {"n": 7}, key="touch")
        with connection.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            pid = cur.fetchone()[0]
        db = connection.settings_dict
        with psycopg.connect(host=db["HOST"], user=db["USER"], dbname=db["NAME"], autocommit=True) as killer:
            killer.execute("SELECT pg_terminate_backend(%s)", [pid])
        call_command("run_worker", "--once", "--no-sweep", "--poll", "0")
    finally:
        jobs.HANDLERS.pop("test_touch")
    assert ran == [7]
    job.refresh_from_db()
    assert job.state == "done"
