"""Console test helpers: users by role, supervisors with a phone, a Daphne live server (HTTP + WebSocket)
and a headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import contextlib
import os
import signal
from datetime import time
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import override_settings

from console.testing import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
# src_centroid of kecamatan Cipondoh (36.71.05) and two more points inside it (fixtures/)
CIPONDOH = "36.71.05"
CIPONDOH_PT = (106.68299190893637, -6.186208240582951)
KARAWACI_PT = (106.61795645611953, -6.181183359016395)  # src_centroid of 36.71.07
CIPONDOH_REPORT = (106.6890, -6.1800)  # ~950 m from the supervisor: not on site by ping
CIPONDOH_PT2 = (106.68329, -6.18581)  # ~55 m away: a walk, not an impossible jump for the speed filter
PASSWORD = "a-long-test-password-1"


def make_user(username: str, *roles: str):
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(username, password=PASSWORD)
    for role in roles:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def make_field_supervisor(username: str, name: str, opd: str = "dishub", kecamatan=(CIPONDOH,)):
    """A user in the supervisor role with a tracking Supervisor record on shift all week."""
    from incidents.models import OPD
    from tracking.models import Shift, Supervisor

    user = make_user(username, "supervisor")
    sup = Supervisor.objects.create(
        user=user, name=name, opd=OPD.objects.get(code=opd), kecamatan_codes=list(kecamatan)
    )
    for wd in range(7):
        Shift.objects.create(supervisor=sup, weekday=wd, start=time(0), end=time(0))
    return sup


def load_world() -> None:
    """Boundaries, OPDs, categories and the role groups, as `manage.py bootstrap` makes them."""
    from incidents.bootstrap import bootstrap
    from tests.conftest import ensure_city

    ensure_city()
    bootstrap(log=lambda m: None)


@pytest.fixture
def world(city):
    load_world()


@pytest.fixture
def operator(world):
    return make_user("op-ui", "operator")


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _media_root(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")


# --- a live Daphne server, one per module, on a database set up once for that module ---------------
@pytest.fixture(scope="module")
def daphne_server(django_db_setup, django_db_blocker, tmp_path_factory):
    """Daphne (HTTP + WebSocket, in-memory channel layer in its own process) on the test database.

    The data is made once per module with the blocker lifted (committed, like a
    TransactionTestCase) and flushed at the end, so the server process sees it.
    """
    from daphne.testing import DaphneProcess
    from django.core.management import call_command
    from django.db import connections

    from console.testing import make_asgi_application, point_at_test_database

    ensure_test_database(django_db_blocker)
    media = tmp_path_factory.mktemp("media")
    os.environ["CONSOLE_TEST_MEDIA_ROOT"] = str(media)
    # No tile server is reachable in tests: the console must work on the boundary layers alone
    # (set before the fork, so the server process has it too).
    tiles = override_settings(CONSOLE_TILE_URL="http://127.0.0.1:9/{z}/{x}/{y}.png")
    tiles.enable()
    with django_db_blocker.unblock(), sync_orm_beside_playwright():
        load_world()
        connections.close_all()  # the forked server must not share our socket
    process = DaphneProcess("127.0.0.1", make_asgi_application, setup=point_at_test_database)
    # The fork inherits Python's signal handlers; a command run earlier in this process (the
    # worker, the simulator) may have made SIGTERM a graceful-stop flag, so the server would
    # outlive terminate() and keep pytest from exiting. Fork with the default disposition.
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        with django_db_blocker.unblock():  # the forked server inherits an unblocked ORM
            process.start()
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not process.ready.wait(timeout=30):
        raise RuntimeError("Daphne did not start")
    url = f"http://127.0.0.1:{process.port.value}"
    yield url
    tiles.disable()
    process.terminate()
    process.join(10)
    if process.is_alive():
        process.kill()
        process.join(5)
    with django_db_blocker.unblock(), sync_orm_beside_playwright():
        call_command("flush", interactive=False, verbosity=0)
        from tests.conftest import ensure_city

        ensure_city()
        connections.close_all()  # the connection made beside Playwright's loop, so the test database can be dropped


def ensure_test_database(django_db_blocker) -> None:
    """pytest-django makes the test database only for tests marked for the database; the browser
    tests are not (their data must be committed for the server process), so when they run alone
    the database is set up here (kept, like --reuse-db). Never touches a non-test database."""
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_databases

    test_name = settings.DATABASES["default"]["TEST"]["NAME"]
    if connection.settings_dict["NAME"] != test_name:
        with django_db_blocker.unblock(), sync_orm_beside_playwright():
            setup_databases(verbosity=0, interactive=False, aliases={"default"}, keepdb=True)
            connection.close_pool()  # a pool made before the rename would still point at the real database
            from tests.conftest import ensure_city

            ensure_city()
    assert connection.settings_dict["NAME"] == test_name, "refusing to run browser tests outside the test database"
    with django_db_blocker.unblock(), sync_orm_beside_playwright(), connection.cursor() as cur:
        cur.execute("SELECT current_database()")  # through the pool, not only the settings' name
        assert cur.fetchone()[0] == test_name, "refusing to run browser tests outside the test database"


@pytest.fixture
def live_db(django_db_blocker):
    """ORM access in a browser test (committed at once, visible to the server process)."""
    with django_db_blocker.unblock(), sync_orm_beside_playwright():
        yield


@contextlib.contextmanager
def sync_orm_beside_playwright():
    """Playwright's sync API keeps an event loop in this thread; Django then refuses ORM calls.

    The test's own ORM calls are plain synchronous code, so the guard is lifted for them only
    (never in the server process: it is forked without this variable)."""
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture(scope="module")
def browser():
    """One Chromium per module, closed as soon as the module's tests end (a session-wide one was
    still open while unrelated modules ran, and closing it at the very end could hang)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (scripts/ensure_system.sh)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def login(page, base: str, username: str, next_path: str) -> None:
    page.goto(f"{base}/console/login/?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("[data-testid=login-submit]")
    page.wait_for_url(f"{base}{next_path}*")


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)
