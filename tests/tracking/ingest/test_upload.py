"""What flows through the stages: drop reasons as the API's wire strings, drops, one attempt's state."""

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import orjson

from tracking.fixes import Fix, FixBatch, Problem
from tracking.ingest.upload import REFUSING_REASONS, Drop, Upload

AT = datetime(2025, 3, 4, 1, 0, tzinfo=UTC)


def upload_of(n: int) -> Upload:
    fixes = FixBatch.from_items([Fix(i, AT + timedelta(seconds=i), -6.18, 106.6) for i in range(n)])
    return Upload(device=None, source="test", received_at=AT, fixes=fixes, rejected=[])


def test_drop_reasons_are_the_wire_strings():
    assert [str(d) for d in Drop] == [
        "invalid coordinates", "zero coordinates", "future timestamp", "older than retention", "poor accuracy",
        "impossible speed", "duplicate",
    ]  # fmt: skip
    assert json.dumps([Drop.SPEED]) == '["impossible speed"]' and orjson.dumps([Drop.SPEED]) == b'["impossible speed"]'
    assert f"{Drop.ZERO}" == "zero coordinates"
    assert REFUSING_REASONS == {"invalid coordinates", "zero coordinates", "future timestamp", "older than retention"}


def test_a_drop_takes_the_fixes_out_with_the_reason():
    upload = upload_of(4)
    upload.drop(np.array([False, True, False, False]), Drop.SPEED)
    upload.drop(np.array([False, False, True]), Drop.DUPLICATE)  # answered as accepted, not as dropped
    upload.drop(np.zeros(2, dtype=bool), Drop.ZERO)
    assert upload.fixes.index.tolist() == [0, 2]
    assert upload.dropped == [(1, "impossible speed")] and upload.duplicates == [3]


def test_an_attempt_keeps_nothing_of_one_rolled_back():
    upload = upload_of(2)
    upload.dropped.append(Problem(0, Drop.ZERO))
    failed = upload.attempt(staged=False)
    failed.dropped.append(Problem(1, Drop.SPEED))
    failed.duplicates.append(1)
    retry = upload.attempt(staged=True)
    assert retry.staged and retry.dropped == [(0, "zero coordinates")] and retry.duplicates == []
