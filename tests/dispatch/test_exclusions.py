"""Why a supervisor was not chosen: a code with its facts in the decision, text in the reader's language."""

from datetime import UTC, datetime

import pytest
from django.utils import translation

from dispatch import dispatcher
from dispatch import exclusions as ex
from dispatch.exclusions import Excluded, Exclusion
from dispatch.models import Decision
from tests.dispatch.conftest import CIPONDOH, TANGERANG, border_pair, report_at, supervisor_at

AT = datetime(2026, 3, 2, 1, 5, tzinfo=UTC)  # 08:05 WIB

# each exclusion in English: the sentence older decisions hold for it
ENGLISH = [
    (ex.not_on_duty("off_shift", "no shift at Mon 08:05 WIB"), "off shift: no shift at Mon 08:05 WIB"),
    (ex.not_on_duty("offline", "no fix ever received"), "offline: no fix ever received"),
    (ex.not_on_duty("stale", "last fix 9 min ago"), "stale position: last fix 9 min ago"),
    (ex.not_on_duty("out_of_area", "since 07:50 WIB"), "outside own assigned area: since 07:50 WIB"),
    (ex.mock_location(AT), "phone sending mock locations since 08:05"),
    (ex.tried(Exclusion.DECLINED, AT), "declined this report at 08:05"),
    (ex.tried(Exclusion.EXPIRED, AT), "did not acknowledge this report in time at 08:05"),
    (ex.tried(Exclusion.TAKEN_OFF, AT), "taken off this report by an operator at 08:05"),
    (ex.tried(Exclusion.TAKEN_OFF), "taken off this report by an operator"),
    (ex.at_cap(3, 3), "at the cap: 3 open orders (max 3)"),
    (ex.at_cap(4, 3, when_offered=True), "at the cap when offered: 4 open orders (max 3)"),
    (ex.no_position(), "no position received yet"),
    (ex.outside_kecamatan("Cipondoh", "36.71.01"), "latest position is outside kecamatan Cipondoh (36.71.01)"),
    (ex.outside_kecamatan("Cipondoh", ""), "latest position is outside kecamatan Cipondoh (outside the city)"),
    (ex.other_kecamatan("36.71.01"), "in another kecamatan (36.71.01)"),
    (ex.other_kecamatan(""), "in another kecamatan (outside the city)"),
]


@pytest.mark.parametrize(("excluded", "sentence"), ENGLISH)
def test_each_exclusion_reads_in_english_as_the_sentence_it_replaces(excluded, sentence):
    with translation.override("en"):
        assert ex.describe(excluded) == sentence
    with translation.override("id"):
        assert ex.describe(excluded, translate=False) == sentence  # the stored English reasons


def test_every_exclusion_has_an_indonesian_text():
    with translation.override("id"):
        assert ex.describe(ex.at_cap(3, 3)) == "batas tugas tercapai: 3 tugas terbuka (maks. 3)"
        assert ex.describe(ex.other_kecamatan("")) == "di kecamatan lain (di luar kota)"
        for excluded, sentence in ENGLISH:
            assert ex.describe(excluded) != sentence, excluded
    assert {e.reason for e, _ in ENGLISH} == set(Exclusion) - {Exclusion.NOT_ON_DUTY}


def test_a_stored_code_reads_back_and_an_older_sentence_is_shown_as_it_was():
    code, detail = ex.stored(ex.at_cap(3, 3))
    assert (code, detail) == ("at_cap", {"workload": 3, "cap": 3})
    assert ex.read(code, detail) == Excluded(Exclusion.AT_CAP, {"workload": 3, "cap": 3})
    assert ex.read(None) is None and ex.stored(None) == (None, {})

    old = {"supervisor_id": 1, "excluded": "at the cap: 3 open orders (max 3)"}  # no detail, a sentence
    assert ex.excluded_of(old) == "at the cap: 3 open orders (max 3)"
    with translation.override("id"):
        assert ex.with_text(old)["excluded_text"] == "at the cap: 3 open orders (max 3)"
        assert ex.with_text({"outside_rule": "in another kecamatan (36.71.01)"})["outside_rule_text"] == (
            "in another kecamatan (36.71.01)"
        )
        assert ex.with_text({"excluded": None, "excluded_detail": {}})["excluded_text"] is None


def test_a_presence_state_without_a_code_keeps_its_name():
    excluded = ex.not_on_duty("on_leave", "cuti")
    assert excluded.reason == Exclusion.NOT_ON_DUTY
    assert ex.describe(excluded) == "on_leave: cuti" and ex.summary_label(excluded) == "on_leave"


@pytest.mark.django_db
def test_the_api_gives_the_code_and_the_text_in_the_callers_language_old_decisions_too(
    refdata, city, operator_client, settings
):
    settings.DISPATCH_MAX_OPEN_ORDERS = 1

    def inside(depth_m):
        return border_pair(city, CIPONDOH, TANGERANG, depth_m=depth_m)[1]

    busy = supervisor_at(inside(400))
    dispatcher.dispatch(report_at(inside(900)), trigger="test")  # busy is at the cap now
    report = report_at(inside(300))
    decision = dispatcher.dispatch(report, trigger="test")
    assert decision.outcome == Decision.Outcome.AWAITING
    assert "(1 at the cap)" in decision.reason  # counted by the code, kept in English
    old = Decision.objects.create(  # an older decision: sentences, no codes
        report=report,
        trigger="test",
        outcome=Decision.Outcome.AWAITING,
        opd=report.opd,
        report_point=report.location,
        candidates=[{"supervisor_id": busy.pk, "name": busy.name, "excluded": "at the cap: 1 open orders (max 1)"}],
        suggestions=[{"supervisor_id": busy.pk, "outside_rule": "at the cap: 1 open orders (max 1)"}],
    )

    url = f"/api/reports/{report.public_id}/dispatch/"
    body = operator_client.get(url, HTTP_ACCEPT_LANGUAGE="id").json()
    new_row, old_row = (next(d for d in body["decisions"] if d["id"] == pk) for pk in (decision.pk, old.pk))
    mine = next(c for c in new_row["candidates"] if c["supervisor_id"] == busy.pk)
    assert mine["excluded"] == "at_cap" and mine["excluded_detail"] == {"workload": 1, "cap": 1}
    assert mine["excluded_text"] == "batas tugas tercapai: 1 tugas terbuka (maks. 1)"
    assert new_row["suggestions"][0]["outside_rule_text"] == mine["excluded_text"]
    assert body["state"]["suggestions"][0]["outside_rule"] == "at_cap"
    assert old_row["candidates"][0]["excluded_text"] == "at the cap: 1 open orders (max 1)"
    assert old_row["suggestions"][0]["outside_rule_text"] == "at the cap: 1 open orders (max 1)"

    english = operator_client.get(url, HTTP_ACCEPT_LANGUAGE="en").json()
    new_row = next(d for d in english["decisions"] if d["id"] == decision.pk)
    mine = next(c for c in new_row["candidates"] if c["supervisor_id"] == busy.pk)
    assert mine["excluded_text"] == "at the cap: 1 open orders (max 1)"

    queue = operator_client.get("/api/dispatch/queue/", HTTP_ACCEPT_LANGUAGE="id").json()["results"]
    row = next(r for r in queue if r["report"] == report.public_id)
    assert row["suggestions"][0]["outside_rule_text"] == "batas tugas tercapai: 1 tugas terbuka (maks. 1)"
