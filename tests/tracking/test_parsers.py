"""The ingestion views' orjson parser reads every body exactly as DRF's JSONParser does: the same
values (and types), the same 400 with the same message."""

from __future__ import annotations

import io
import json
import math

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from tracking.parsers import FastJSONParser

UTF8 = {"encoding": "utf-8"}


def outcome(parser, raw: bytes, context=UTF8):
    try:
        return "ok", parser.parse(io.BytesIO(raw), "application/json", context)
    except ParseError as exc:
        return "400", str(exc.detail)
    except RecursionError:  # the API's exception handler answers 400 "nested too deeply"
        return "400", "recursion"


def same(a, b) -> bool:
    """Equal with the same types all the way down (1 != 1.0 here; NaN is never expected)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def assert_same(raw: bytes, context=UTF8) -> None:
    want, got = outcome(JSONParser(), raw, context), outcome(FastJSONParser(), raw, context)
    assert want[0] == got[0] and (same(want[1], got[1]) if want[0] == "ok" else want[1] == got[1]), (
        raw[:80],
        want,
        got,
    )


@pytest.mark.parametrize(
    "raw",
    [
        b'{"pings": [{"time": "2025-03-04T08:00:00+07:00", "lat": -6.18, "lon": 106.6, "mock": true}]}',
        b'{"a": 1, "a": 2}',  # duplicate keys: the last wins
        b' {"a" : [1, 2.5, -0, -0.0, 1E5, 1e-400, null, false]} \r\n',
        b"18446744073709551615",  # 64-bit: an int in both
        b"18446744073709551616",  # beyond 64 bits: orjson would make it a float
        b"-9223372036854775809",
        b'{"lat": 123456789012345678901234567890}',
        b"[" + b"9" * 5000 + b"]",  # over Python's int digit limit: a 400
        b"1e400",  # inf in the standard library, refused by orjson
        b"NaN",
        b'{"lat": Infinity}',
        b'"\\ud800"',  # a lone surrogate
        b'"\\ud83d\\ude00"',
        b"\xef\xbb\xbf{}",  # a BOM
        b'"\xff"',  # not UTF-8
        "ü".encode("latin-1"),
        b"\x00\xff\xfe",
        b"{not json",
        b"{",
        b"[1,]",
        b'{"a": 1}x',
        b'"a\x01b"',  # a raw control character
        b'"a\\u0000b"',
        b"[" * 1100 + b"]" * 1100,  # deeper than orjson's limit
        b"[" * 5000 + b"]" * 5000,
        b'{"pad": "' + b"y" * 100_000 + b'"}',
    ],
)
def test_edge_cases_read_like_drf(raw):
    assert_same(raw)


def test_a_declared_charset_other_than_utf8_goes_to_drf():
    raw = '{"name": "Budi ü"}'.encode("latin-1")
    assert_same(raw, {"encoding": "latin-1"})
    assert FastJSONParser().parse(io.BytesIO(raw), "application/json", {"encoding": "latin-1"}) == {"name": "Budi ü"}


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=20,
)


@hsettings(max_examples=300, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(value=json_values, ascii_only=st.booleans())
def test_any_json_reads_like_drf(value, ascii_only):
    assert_same(json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass"))


def test_a_phones_batch_is_read_by_orjson(monkeypatch):
    import rest_framework.parsers

    def refuse(*args, **kwargs):
        raise AssertionError("the standard library parser ran")

    monkeypatch.setattr(rest_framework.parsers.json, "load", refuse)
    body = {"pings": [{"time": "2025-03-04T01:00:00Z", "lat": -6.18, "lon": 106.6, "battery": 80} for _ in range(3)]}
    assert FastJSONParser().parse(io.BytesIO(json.dumps(body).encode()), "application/json", UTF8) == body
