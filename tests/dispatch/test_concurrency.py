"""Real parallel transactions: threads with their own database connections, started together."""

import threading
from collections import Counter

import pytest
from django.db import connection

from dispatch import dispatcher, errors, operators, state
from dispatch.models import Order
from tests.conftest import ensure_city
from tests.dispatch.conftest import CIPONDOH, TANGERANG, border_pair, report_at, supervisor_at

pytestmark = pytest.mark.django_db(transaction=True)


def run_together(fns):
    """Run each fn in its own thread (own DB connection), released at the same instant by a barrier."""
    barrier = threading.Barrier(len(fns))
    results: list = [None] * len(fns)

    def worker(i, fn):
        try:
            barrier.wait()
            results[i] = fn()
        except Exception as exc:  # noqa: BLE001 - the test inspects what each thread got
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.fixture
def city_tx(transactional_db):
    ensure_city()
    from incidents.bootstrap import bootstrap
    from kecamatan_boundaries.models import Kecamatan

    bootstrap(log=lambda m: None)
    return {k.code: k for k in Kecamatan.objects.current()}


def inside(city, depth_m):
    return border_pair(city, CIPONDOH, TANGERANG, depth_m=depth_m)[1]


def test_reports_dispatched_at_the_same_moment_never_push_a_supervisor_over_the_cap(city_tx, settings, quiet):
    settings.DISPATCH_MAX_OPEN_ORDERS = 2
    near = supervisor_at(inside(city_tx, 350))
    far = supervisor_at(inside(city_tx, 900))
    reports = [report_at(inside(city_tx, 300 + i)) for i in range(6)]

    results = run_together([lambda r=r: dispatcher.dispatch(r.pk, trigger="test") for r in reports])

    assert not [r for r in results if isinstance(r, Exception)], results
    per_supervisor = Counter(Order.objects.open().values_list("supervisor_id", flat=True))
    assert per_supervisor == {near.pk: 2, far.pk: 2}
    outcomes = Counter(d.outcome for d in results)
    assert outcomes == {"offered": 4, "awaiting": 2}


def test_two_operators_reassign_one_report_one_wins_the_other_is_told(city_tx, quiet):
    a = supervisor_at(inside(city_tx, 350))
    b = supervisor_at(inside(city_tx, 600))
    c = supervisor_at(inside(city_tx, 900))
    report = report_at(inside(city_tx, 300))
    dispatcher.dispatch(report.pk, trigger="test")
    assert Order.objects.open().get(report=report).supervisor_id == a.pk
    version = state.state_of(report).version

    results = run_together(
        [
            lambda: operators.reassign(
                report, reason="op1: B lebih cepat", actor="op1", version=version, supervisor_id=b.pk
            ),
            lambda: operators.reassign(
                report, reason="op2: C lebih cepat", actor="op2", version=version, supervisor_id=c.pk
            ),
        ]
    )

    losers = [r for r in results if isinstance(r, errors.StaleVersion)]
    winners = [r for r in results if not isinstance(r, Exception)]
    assert len(losers) == 1 and len(winners) == 1, results
    assert Order.objects.open().filter(report=report).count() == 1
    assert Order.objects.open().get(report=report).supervisor_id == winners[0].chosen_id
    assert Order.objects.filter(report=report, state="reassigned").count() == 1


def test_an_offer_does_not_wait_for_a_report_being_filed_to_the_same_opd(city_tx, quiet):
    """A report being filed holds a key-share lock on its OPD's row until it commits (the foreign-key
    check). The dispatcher's lock on a supervisor of that OPD must not wait for it: with the OPD row
    in the lock too, a filing report and the worker's dispatch deadlocked under load."""
    import psycopg

    sup = supervisor_at(inside(city_tx, 350))
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    with psycopg.connect(**params) as filing:  # a transaction of its own, left open
        filing.execute("SELECT 1 FROM incidents_opd WHERE id = %s FOR KEY SHARE", [sup.opd_id])
        from django.db import transaction

        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute("SET LOCAL lock_timeout = '3s'")
            assert dispatcher.lock_and_count(sup.pk) == 0  # with the OPD row in the lock: a lock timeout
        filing.rollback()
