"""Photos and videos no report refers to (left when an intake's transaction rolled back after its
files were written) are removed by `manage.py sweep_media`; files in use, and recent ones, stay."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.core.management import CommandError, call_command

from incidents.models import ReportMedia

from . import samples

pytestmark = pytest.mark.django_db(transaction=True)


def _age(path: Path, hours: float) -> None:
    then = time.time() - hours * 3600
    os.utime(path, (then, then))


def test_unreferenced_old_files_go_and_files_in_use_or_recent_stay(live_server, refdata):
    r = requests.post(
        f"{live_server.url}/api/reports/",
        data={"category": "sampah", "description": "sampah menumpuk", "lat": "-6.18", "lon": "106.63"},
        files=[("files", ("IMG_1.jpg", samples.photo("JPEG"), "image/jpeg"))],
        timeout=30,
    )
    assert r.status_code == 201, r.text
    media = ReportMedia.objects.get(report__public_id=r.json()["id"])
    root = Path(settings.MEDIA_ROOT)
    in_use = [root / media.file.name, root / media.thumbnail.name]
    folder = in_use[0].parent
    orphan = folder / "R-LOST-1.jpg"  # as a rolled-back intake leaves it
    orphan_thumb = folder / "R-LOST-1-thumb.jpg"
    fresh = folder / "R-NOW-1.jpg"  # an intake still in its transaction
    for path in (orphan, orphan_thumb, fresh):
        path.write_bytes(samples.photo("JPEG"))
    for path in (*in_use, orphan, orphan_thumb):
        _age(path, 48)

    out = io.StringIO()
    call_command("sweep_media", "--dry-run", stdout=out)
    assert "would remove 2 unreferenced files; kept 2 in use and 1 younger than 24 h" in out.getvalue()
    assert orphan.exists() and orphan_thumb.exists()

    out = io.StringIO()
    call_command("sweep_media", stdout=out)
    assert "removed 2 unreferenced files; kept 2 in use and 1 younger than 24 h" in out.getvalue()
    assert not orphan.exists() and not orphan_thumb.exists()
    assert all(p.exists() for p in in_use) and fresh.exists()


def test_a_cutoff_under_an_hour_is_refused_by_name(refdata):
    with pytest.raises(CommandError, match="--older-than-hours must be at least 1"):
        call_command("sweep_media", "--older-than-hours", "0.1")
