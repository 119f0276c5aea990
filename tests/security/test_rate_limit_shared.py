"""The anonymous report rate limit holds across web processes: the count lives in the database
cache, not in each process (with two Daphne processes a client got twice the rate before)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from tests.console.conftest import CIPONDOH_PT

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.shared_cache]

OTHER_PROCESS = """
import json, os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "geoapp.settings"
import geoapp.settings as s
s.DATABASES["default"]["NAME"] = sys.argv[1]
s.INCIDENTS_ANON_RATE = "3/hour"
import django
django.setup()
from rest_framework.test import APIClient
body = json.loads(sys.argv[2])
r = APIClient().post("/api/reports/", body, format="json", HTTP_IDEMPOTENCY_KEY="other-process")
print(r.status_code)
"""


def test_a_client_over_the_limit_in_one_process_is_refused_by_another(city, settings):
    from incidents.bootstrap import bootstrap

    bootstrap(log=lambda m: None)
    settings.INCIDENTS_ANON_RATE = "3/hour"
    cache.clear()
    body = {"category": "banjir", "lat": CIPONDOH_PT[1], "lon": CIPONDOH_PT[0], "description": "banjir"}
    c = APIClient()
    answers = [c.post("/api/reports/", body, format="json", HTTP_IDEMPOTENCY_KEY=f"k{i}").status_code for i in range(3)]
    assert answers == [201, 201, 201]
    other = subprocess.run(
        [sys.executable, "-c", OTHER_PROCESS, connection.settings_dict["NAME"], json.dumps(body)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert other.returncode == 0, other.stderr[-2000:]
    assert other.stdout.split()[-1] == "429"  # the fourth in the hour, though the first in that process
    cache.clear()
