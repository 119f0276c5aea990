"""Intake: routing of every category at real points, idempotency, duplicates, the lifecycle."""

import pytest
from django.contrib.gis.geos import Point
from django.db import transaction

from incidents import lifecycle
from incidents.intake import IdempotencyConflict, ReportInput, UnknownCategory, submit_report
from incidents.lifecycle import InvalidTransition
from incidents.models import DuplicateLink, EventKind, Report, ReportEvent, Status
from incidents.routing import OutsideCity
from incidents.signals import report_changed, report_routed

from .conftest import JAKARTA, KNOWN, point_of

EXPECTED_OPD = {
    "kemacetan": "dishub",
    "lampu-lalu-lintas-mati": "dishub",
    "banjir": "bpbd",
    "kebakaran": "bpbd",
    "genangan-saluran-tersumbat": "dbmsda",
    "jalan-rusak": "dbmsda",
    "pohon-tumbang": "dkp",
    "sampah": "dkp",
    "gangguan-keamanan-ketertiban": "satpolpp",
    "kamar-bersalin": "dinkes",
}


@pytest.mark.django_db
def test_every_category_is_routed_to_its_opd_and_tagged_with_the_real_kecamatan(refdata):
    assert set(EXPECTED_OPD) <= set(refdata)
    # one category per kecamatan: spread the checks over the real city
    by_kecamatan = {}
    for k in KNOWN:
        by_kecamatan.setdefault(k["kecamatan_code"], k)
    spots = list(by_kecamatan.values())
    for i, (code, opd) in enumerate(sorted(EXPECTED_OPD.items())):
        spot = spots[i % len(spots)]
        result = submit_report(
            ReportInput(category=code, description="uji", location=Point(spot["lon"], spot["lat"], srid=4326))
        )
        report = result.report
        assert result.created
        assert report.opd.code == opd, code
        assert report.kecamatan.code == spot["kecamatan_code"]
        assert report.kelurahan.code == spot["code"]
        assert report.status == Status.ROUTED
        assert report.routed_at is not None
        assert report.priority == refdata[code].default_priority
        kinds = list(report.events.values_list("kind", "to_status"))
        assert kinds[0] == (EventKind.CREATED, Status.RECEIVED)
        assert (EventKind.STATUS, Status.ROUTED) in kinds


@pytest.mark.django_db
def test_outside_the_city_is_refused_and_nothing_is_stored(refdata):
    with pytest.raises(OutsideCity) as err:
        submit_report(ReportInput(category="banjir", location=Point(JAKARTA[1], JAKARTA[0], srid=4326)))
    assert "outside Kota Tangerang" in err.value.message
    assert err.value.status_code == 422
    assert Report.objects.count() == 0


@pytest.mark.django_db
def test_unknown_and_missing_category(refdata):
    with pytest.raises(UnknownCategory):
        submit_report(ReportInput(category="tsunami", location=point_of("Sukarasa")))
    with pytest.raises(UnknownCategory):
        submit_report(ReportInput(category="", location=point_of("Sukarasa")))
    assert Report.objects.count() == 0


@pytest.mark.django_db
def test_retry_with_same_key_returns_the_same_report(refdata):
    data = dict(category="sampah", description="sampah menumpuk", client_ref="anon", idempotency_key="k-1")
    first = submit_report(ReportInput(location=point_of("Sukarasa"), **data))
    again = submit_report(ReportInput(location=point_of("Sukarasa"), **data))
    assert first.created and not again.created
    assert again.report.pk == first.report.pk
    assert Report.objects.count() == 1
    # same key, other client: a different report
    other = submit_report(ReportInput(location=point_of("Sukarasa"), **{**data, "client_ref": "user:9"}))
    assert other.created and other.report.pk != first.report.pk
    # same key, same client, different content: refused, not silently merged
    with pytest.raises(IdempotencyConflict):
        submit_report(ReportInput(location=point_of("Sukarasa"), **{**data, "description": "lain"}))


@pytest.mark.django_db
def test_idempotency_key_is_enforced_by_the_database(refdata):
    from django.db import IntegrityError

    r = submit_report(ReportInput(category="sampah", location=point_of("Sukarasa"), idempotency_key="x")).report
    with pytest.raises(IntegrityError), transaction.atomic():
        Report.objects.create(
            category=r.category, opd=r.opd, location=r.location, client_ref="anon", idempotency_key="x"
        )


@pytest.mark.django_db
def test_likely_duplicates_within_250_m_and_24_h_same_category(refdata):
    base = point_of("Sukarasa")
    first = submit_report(ReportInput(category="pohon-tumbang", location=base)).report
    # ~200 m north (1 deg lat ~ 110.6 km here): a likely duplicate
    near = Point(base.x, base.y + 200 / 110_600, srid=4326)
    second = submit_report(ReportInput(category="pohon-tumbang", location=near))
    assert [d.original_id for d in second.duplicates] == [first.pk]
    assert 190 < second.duplicates[0].distance_m < 210
    # ~300 m south of the first (500 m from the second): not a duplicate
    far = Point(base.x, base.y - 300 / 110_600, srid=4326)
    assert submit_report(ReportInput(category="pohon-tumbang", location=far)).duplicates == []
    # same place, other category: not a duplicate
    assert submit_report(ReportInput(category="sampah", location=base)).duplicates == []
    # older than 24 h: not a duplicate
    from datetime import timedelta

    Report.objects.filter(pk=first.pk).update(created_at=first.created_at - timedelta(hours=25))
    Report.objects.exclude(pk=first.pk).delete()
    assert submit_report(ReportInput(category="pohon-tumbang", location=near)).duplicates == []


@pytest.mark.django_db
def test_closed_reports_are_not_duplicates_and_operator_merges(refdata, operator):
    base = point_of("Sukarasa")
    first = submit_report(ReportInput(category="banjir", location=base)).report
    second = submit_report(ReportInput(category="banjir", location=base)).report
    lifecycle.merge_duplicate(second, first, actor=operator)
    second.refresh_from_db()
    assert second.status == Status.DUPLICATE and second.duplicate_of == first
    assert DuplicateLink.objects.get(report=second).decision == DuplicateLink.Decision.MERGED
    assert first.events.filter(kind=EventKind.MERGED).exists()
    # a merged duplicate is not open, so a third report links only to the first
    third = submit_report(ReportInput(category="banjir", location=base))
    assert [d.original_id for d in third.duplicates] == [first.pk]


@pytest.mark.django_db
def test_lifecycle_full_path_stamps_times_and_writes_timeline(refdata, operator):
    r = submit_report(ReportInput(category="kemacetan", location=point_of("Sukarasa"))).report
    for status in ["dispatched", "acknowledged", "in_progress", "resolved", "closed"]:
        r = lifecycle.change_status(r, status, actor=operator, note=f"-> {status}")
    assert r.status == Status.CLOSED
    for stamp in ["routed_at", "dispatched_at", "acknowledged_at", "resolved_at", "closed_at"]:
        assert getattr(r, stamp) is not None, stamp
    assert r.routed_at <= r.dispatched_at <= r.acknowledged_at <= r.resolved_at <= r.closed_at
    trail = list(r.events.filter(kind=EventKind.STATUS).values_list("from_status", "to_status"))
    assert trail == [
        ("received", "routed"),
        ("routed", "dispatched"),
        ("dispatched", "acknowledged"),
        ("acknowledged", "in_progress"),
        ("in_progress", "resolved"),
        ("resolved", "closed"),
    ]
    assert r.events.filter(actor=operator).count() == 5
    r = lifecycle.change_status(r, "reopened", actor=operator)
    assert r.resolved_at is None and r.closed_at is None
    r = lifecycle.change_status(r, "routed", actor=operator)
    assert r.status == Status.ROUTED


@pytest.mark.django_db
def test_invalid_transition_is_refused_and_not_logged(refdata):
    r = submit_report(ReportInput(category="kemacetan", location=point_of("Sukarasa"))).report
    before = ReportEvent.objects.count()
    with pytest.raises(InvalidTransition) as err:
        lifecycle.change_status(r, "closed")
    assert err.value.status_code == 409
    assert "cannot become closed" in err.value.message
    assert ReportEvent.objects.count() == before
    r.refresh_from_db()
    assert r.status == Status.ROUTED


@pytest.mark.django_db
def test_side_exits_rejected_referred(refdata):
    r = submit_report(ReportInput(category="sampah", location=point_of("Sukarasa"))).report
    r = lifecycle.change_status(r, "referred", note="kewenangan provinsi")
    assert r.status == Status.REFERRED
    r = lifecycle.change_status(r, "closed")
    r2 = submit_report(ReportInput(category="sampah", location=point_of("Sukarasa"))).report
    assert lifecycle.change_status(r2, "rejected", note="spam").status == Status.REJECTED


@pytest.mark.django_db
def test_recategorising_reroutes_to_the_new_opd(refdata, operator):
    r = submit_report(ReportInput(category="sampah", location=point_of("Sukarasa"))).report
    r = lifecycle.change_status(r, "dispatched")
    r = lifecycle.recategorise(r, refdata["banjir"], actor=operator, note="ternyata banjir")
    assert r.opd.code == "bpbd" and r.status == Status.ROUTED
    assert r.priority == refdata["banjir"].default_priority
    ev = r.events.get(kind=EventKind.RECATEGORISED)
    assert ev.data["from_opd"] == "dkp" and ev.data["to_opd"] == "bpbd"


@pytest.mark.django_db(transaction=True)
def test_signals_fire_after_commit_only():
    from tests.conftest import ensure_city

    ensure_city()
    from incidents.bootstrap import bootstrap

    bootstrap(log=lambda m: None)
    routed, changed = [], []

    def on_routed(sender, report, **kw):
        routed.append(report.public_id)

    def on_changed(sender, report, event, created, **kw):
        changed.append((report.public_id, event.kind, created))

    report_routed.connect(on_routed)
    report_changed.connect(on_changed)
    try:
        with pytest.raises(RuntimeError), transaction.atomic():
            submit_report(ReportInput(category="banjir", location=point_of("Sukarasa")))
            raise RuntimeError("roll back")
        assert routed == [] and changed == []
        r = submit_report(ReportInput(category="banjir", location=point_of("Sukarasa"))).report
        assert routed == [r.public_id]
        assert (r.public_id, "created", True) in changed
        lifecycle.change_status(r, "dispatched")
        assert changed[-1] == (r.public_id, "status", False)
        assert routed == [r.public_id]
    finally:
        report_routed.disconnect(on_routed)
        report_changed.disconnect(on_changed)
