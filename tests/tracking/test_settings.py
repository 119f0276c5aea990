"""Tracking's settings: TRACKING_-prefixed names with defaults, applied at once when overridden."""

import re
from pathlib import Path

from django.test import override_settings

import tracking
from tracking import settings as ts


def test_defaults():
    assert (ts.presence_window_s(), ts.offline_after_s(), ts.area_exit_pings(), ts.area_exit_dwell_s()) == (
        300,
        1800,
        2,
        120,
    )
    assert (ts.max_accuracy_m(), ts.max_speed_kmh(), ts.clock_skew_s(), ts.max_batch()) == (150.0, 180.0, 300, 1000)
    assert (ts.auth_cache_s(), ts.retention_days(), ts.last_seen_every_s()) == (60, 400, 60)


def test_an_override_applies_at_once_and_is_forgotten_after():
    assert ts.max_batch() == 1000
    with override_settings(TRACKING_MAX_BATCH=5, TRACKING_FILTER_SPEED=False):
        assert ts.max_batch() == 5 and ts.filter_speed() is False
    assert ts.max_batch() == 1000 and ts.filter_speed() is True


def test_tracking_reads_settings_and_the_environment_only_through_settings_py():
    direct = re.compile(r"settings\.TRACKING_|getattr\(\w+, \"TRACKING_|os\.environ|getenv\(")
    root = Path(tracking.__file__).parent
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.name != "settings.py" and direct.search(path.read_text())
    ]
    assert offenders == []
