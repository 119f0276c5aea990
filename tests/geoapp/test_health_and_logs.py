"""The health endpoint and the redaction of secrets in logs."""

import logging

import pytest

from core.logging import JsonFormatter, RedactSecrets, redact


@pytest.mark.django_db
def test_health_reports_database_and_boundaries(client, city):
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["kecamatan"] == 13


@pytest.mark.django_db
def test_health_is_503_without_boundaries(client):
    from kecamatan_boundaries.models import Generation

    Generation.objects.update(active=False)
    r = client.get("/healthz")
    assert r.status_code == 503 and "no kecamatan" in r.json()["reason"]


@pytest.mark.parametrize(
    "line,secret",
    [
        ("GET /tracking/osmand/?id=hp-17&token=s3cr3tTOKENvalue&lat=-6.2", "s3cr3tTOKENvalue"),
        ("POST /open311/v2/requests.json api_key=abcdef123456 service_code=banjir", "abcdef123456"),
        ('body {"password": "hunter2-long", "username": "op1"}', "hunter2-long"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9.payload.sig"),
        ("Authorization: Basic b3AxOmh1bnRlcjItbG9uZw==", "b3AxOmh1bnRlcjItbG9uZw=="),
    ],
)
def test_secrets_never_reach_a_log_line(line, secret):
    assert secret not in redact(line)
    record = logging.LogRecord("django.request", logging.INFO, __file__, 1, "%s", (line,), None)
    RedactSecrets().filter(record)
    out = JsonFormatter().format(record)
    assert secret not in out and "***" in out


def test_redaction_keeps_harmless_text():
    assert redact("GET /api/kecamatan/?lat=-6.2&lon=106.6 200") == "GET /api/kecamatan/?lat=-6.2&lon=106.6 200"
