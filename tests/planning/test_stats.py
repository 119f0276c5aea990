"""Statistics per kecamatan and the other breakdowns equal the numbers worked out from the specs."""

from datetime import date

import pytest

from planning.filters import BadPeriod, UnknownFilterValue, parse_filters
from planning.stats import compute

from .conftest import PERIOD, expected, in_period

pytestmark = pytest.mark.django_db

NUMBERS = (
    "reports",
    "previous",
    "dispatched",
    "resolved",
    "share_pct",
    "dispatch_median_min",
    "dispatch_p90_min",
    "dispatch_over_target_pct",
    "resolve_median_min",
    "resolve_p90_min",
    "resolve_over_target_pct",
)


def assert_row(row: dict, want: dict | None, label: str) -> None:
    want = want or {
        k: (0 if k in ("reports", "previous", "dispatched", "resolved", "share_pct") else None) for k in NUMBERS
    }
    for k in NUMBERS:
        if want[k] is None:
            assert row[k] is None, (label, k)
        else:
            assert row[k] == pytest.approx(want[k], abs=0.01), (label, k, row[k], want[k])
    assert row["change"] == want["reports"] - want["previous"]
    if want["previous"]:
        assert row["change_pct"] == pytest.approx(
            100 * (want["reports"] - want["previous"]) / want["previous"], abs=0.01
        )
    else:
        assert row["change_pct"] is None


def period_filter(**extra):
    return parse_filters({"from": PERIOD[0].isoformat(), "to": PERIOD[1].isoformat(), **extra})


def test_kecamatan_numbers_match_the_reports(scenario, city):
    specs, targets = scenario["specs"], scenario["targets"]
    stats = compute(period_filter())
    want = expected(specs, lambda s: s.kecamatan, targets=targets)

    assert [r["code"] for r in stats.kecamatan] == sorted(city)  # every kecamatan, zeros included
    for row in stats.kecamatan:
        assert_row(row, want.get(row["code"]), row["code"])
        assert row["per_km2"] == pytest.approx(row["reports"] / city[row["code"]].area_km2, abs=0.001)
    assert stats.city["reports"] == sum(1 for s in specs if in_period(s))
    assert stats.unplaced == 1  # the report from Jakarta counts for the city, in no kecamatan
    assert sum(r["reports"] for r in stats.kecamatan) == stats.city["reports"] - 1
    busiest = max(stats.kecamatan, key=lambda r: r["reports"])
    assert busiest["code"] in ("36.71.01", "36.71.04", "36.71.09")


def test_period_edges_are_whole_days_in_wib(scenario):
    # 00:00:00 on 1 March and 23:59:59 on 31 March WIB count; 00:00 on 1 April does not
    specs = scenario["specs"]
    stats = compute(period_filter())
    assert stats.city["reports"] == 160 + 4  # random ones + three edge reports + the Jakarta one
    assert stats.city["previous"] == sum(1 for s in specs if in_period(s, (date(2024, 1, 30), date(2024, 2, 29))))
    assert stats.filters.previous_from == date(2024, 1, 30)


def test_other_breakdowns_match(scenario):
    specs, targets, cats = scenario["specs"], scenario["targets"], scenario["categories"]
    stats = compute(period_filter())

    want = expected(specs, lambda s: s.kelurahan, targets=targets)
    assert len(stats.kelurahan) == 104
    for row in stats.kelurahan:
        assert_row(row, want.get(row["code"]), row["code"])

    want = expected(specs, lambda s: s.category, targets=targets)
    by_code = {r["code"]: r for r in stats.category}
    assert set(by_code) == set(cats)  # zero rows for categories without reports
    for code, row in by_code.items():
        assert_row(row, want.get(code), code)

    want = expected(specs, lambda s: s.opd, targets=targets)
    for row in stats.opd:
        assert_row(row, want.get(row["code"]), row["code"])

    want = expected(specs, lambda s: s.created.hour, targets=targets)  # specs are made in WIB
    assert [r["hour"] for r in stats.hour] == list(range(24))
    for row in stats.hour:
        assert_row(row, want.get(row["hour"]), f"hour {row['hour']}")

    want = expected(specs, lambda s: s.created.isoweekday(), targets=targets)
    assert [r["day"] for r in stats.weekday][:2] == ["Senin", "Selasa"]
    for row in stats.weekday:
        assert_row(row, want.get(row["isodow"]), f"day {row['isodow']}")

    pivot = {r["code"]: r for r in stats.kecamatan_category}
    for s_code, row in pivot.items():
        for c in cats:
            n = sum(1 for s in specs if in_period(s) and s.kecamatan == s_code and s.category == c)
            assert row[c] == n
        assert row["total"] == next(r["reports"] for r in stats.kecamatan if r["code"] == s_code)


def test_filters_narrow_every_number(scenario):
    specs, targets = scenario["specs"], scenario["targets"]
    stats = compute(period_filter(category="banjir,kemacetan", channel="app"))
    subset = [s for s in specs if s.category in ("banjir", "kemacetan") and s.channel == "app"]
    want = expected(subset, lambda s: s.kecamatan, targets=targets)
    for row in stats.kecamatan:
        assert_row(row, want.get(row["code"]), row["code"])
    assert {r["code"] for r in stats.category} == {"banjir", "kemacetan"}

    stats = compute(period_filter(opd="dishub", kecamatan="36.71.01"))
    subset = [s for s in specs if s.opd == "dishub" and s.kecamatan == "36.71.01"]
    assert [r["code"] for r in stats.kecamatan] == ["36.71.01"]
    assert stats.city["reports"] == sum(1 for s in subset if in_period(s))
    assert stats.kecamatan[0]["share_pct"] == 100.0

    stats = compute(period_filter(status="resolved"))
    assert stats.city["reports"] == sum(1 for s in specs if in_period(s) and s.status == "resolved")


def test_empty_period_gives_zeros_not_an_error(scenario):
    stats = compute(parse_filters({"from": "2020-01-01", "to": "2020-01-31"}))
    assert stats.city["reports"] == 0
    assert len(stats.kecamatan) == 13
    assert all(r["reports"] == 0 and r["per_km2"] == 0 and r["dispatch_median_min"] is None for r in stats.kecamatan)


@pytest.mark.parametrize(
    ("params", "error", "words"),
    [
        ({"from": "2024-03-31", "to": "2024-03-01"}, BadPeriod, "before it starts"),
        ({"from": "31/03/2024", "to": "2024-04-01"}, BadPeriod, "date like"),
        ({"from": "2024-03-01"}, BadPeriod, "`to` is missing"),
        ({"from": "2000-01-01", "to": "2024-01-01"}, BadPeriod, "at most"),
        ({"from": "2024-03-01", "to": "2024-03-31", "category": "banjir,tsunami"}, UnknownFilterValue, "'tsunami'"),
        ({"from": "2024-03-01", "to": "2024-03-31", "opd": "dinas-x"}, UnknownFilterValue, "dishub"),
        ({"from": "2024-03-01", "to": "2024-03-31", "status": "lost"}, UnknownFilterValue, "resolved"),
        ({"from": "2024-03-01", "to": "2024-03-31", "channel": "fax"}, UnknownFilterValue, "open311"),
        ({"from": "2024-03-01", "to": "2024-03-31", "kecamatan": "Gotham"}, UnknownFilterValue, "Gotham"),
    ],
)
def test_bad_input_is_refused_with_the_reason(refdata, params, error, words):
    with pytest.raises(error) as exc:
        parse_filters(params)
    assert words in exc.value.message


def test_kecamatan_by_name_and_a_single_day(scenario, city):
    f = parse_filters({"from": "2024-03-01", "to": "2024-03-01", "kecamatan": city["36.71.01"].name.upper()})
    assert f.kecamatan == ("36.71.01",) and f.days == 1
    assert f.previous_from == date(2024, 2, 29)
