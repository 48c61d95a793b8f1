"""Parsing Alertmanager v4 bodies, and the keys that suppress duplicates."""

from __future__ import annotations

import copy
import json

import pytest

from helpers import FIXTURES
from napops.relay.errors import PayloadError
from napops.relay.payload import content_hash, dedup_key, earliest_start, parse, parse_time

RAW = (FIXTURES / "alertmanager" / "firing-group.json").read_bytes()


def test_real_fixture_parses():
    data = parse(RAW)
    assert data["status"] == "firing" and len(data["alerts"]) == 2
    assert "ระบบ" in data["alerts"][0]["annotations"]["description"]
    assert earliest_start(data) == parse_time("2026-11-26T17:34:08Z")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff{}", "not valid UTF-8"),
        (b"{nope", "not valid JSON"),
        (b"[]", "expected object"),
        (json.dumps({**json.loads(RAW), "version": "3"}).encode(), "At 'version'"),
        (json.dumps({**json.loads(RAW), "alerts": []}).encode(), "At 'alerts'"),
        (
            json.dumps({k: v for k, v in json.loads(RAW).items() if k != "groupKey"}).encode(),
            "At 'groupKey': required",
        ),
    ],
)
def test_bad_bodies_name_the_problem(body, reason):
    with pytest.raises(PayloadError, match=reason):
        parse(body)


def test_unreadable_time_is_refused():
    data = json.loads(RAW)
    data["alerts"][0]["startsAt"] = "yesterday"
    with pytest.raises(PayloadError, match="unreadable time"):
        parse(json.dumps(data).encode())


def test_times_with_nanoseconds_and_zero_time():
    assert parse_time("2026-11-26T17:34:08.123456789Z") == pytest.approx(
        parse_time("2026-11-26T17:34:08Z") + 0.123456
    )
    assert parse_time("0001-01-01T00:00:00Z") is None
    # a numeric offset after nanoseconds is kept (Alertmanager in a non-UTC zone)
    assert parse_time("2026-11-27T00:34:08.123456789+07:00") == pytest.approx(
        parse_time("2026-11-26T17:34:08Z") + 0.123456
    )


def test_dedup_key_same_for_same_content_and_differs_on_change():
    a = parse(RAW)
    b = copy.deepcopy(a)
    b["alerts"].reverse()  # order does not matter
    b["truncatedAlerts"] = 0
    assert dedup_key(a) == dedup_key(b)
    c = copy.deepcopy(a)
    c["alerts"][0]["annotations"]["description"] = "changed"
    assert content_hash(c) != content_hash(a) and dedup_key(c) != dedup_key(a)
    d = copy.deepcopy(a)
    d["status"] = "resolved"
    assert dedup_key(d) != dedup_key(a)
