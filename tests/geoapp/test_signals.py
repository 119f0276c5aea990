"""A failing receiver of a committed change never turns an accepted report into an error."""

import io
import logging

import pytest

from incidents.models import Report
from incidents.signals import report_changed


@pytest.mark.django_db(transaction=True)
def test_report_is_accepted_once_even_when_a_receiver_fails(client, caplog):
    from tests.conftest import ensure_city

    ensure_city()
    from django.core.management import call_command

    call_command("bootstrap", stdout=io.StringIO())

    def broken(**kwargs):
        raise RuntimeError("console push is down")

    report_changed.connect(broken, dispatch_uid="test-broken")
    try:
        with caplog.at_level(logging.ERROR, logger="core.signals"):
            r = client.post(
                "/api/reports/",
                {"category": "banjir", "lat": -6.1816, "lon": 106.7057, "description": "banjir 40 cm"},
                content_type="application/json",
                HTTP_IDEMPOTENCY_KEY="receiver-failure-1",
            )
    finally:
        report_changed.disconnect(dispatch_uid="test-broken")
    assert r.status_code == 201, r.content
    assert Report.objects.filter(idempotency_key="receiver-failure-1").count() == 1
    assert "console push is down" in caplog.text and "the change stands" in caplog.text
