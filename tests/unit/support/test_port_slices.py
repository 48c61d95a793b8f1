"""free_port()'s slices: each pytest-xdist worker draws from a part of PORT_RANGE no other
worker draws from (two workers picking the same port made a Pebble and a node exporter of
different tests fight over it)."""

from __future__ import annotations

import pytest

from helpers import PORT_RANGE, port_range


def slices(count: int, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(count))
    found = []
    for n in range(count):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{n}")
        found.append(port_range())
    return found


@pytest.mark.parametrize("count", [2, 3, 6, 8])
def test_workers_draw_from_disjoint_slices_of_the_range(
    count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = slices(count, monkeypatch)
    low, high = PORT_RANGE
    for (a_low, a_high), (b_low, _b_high) in zip(found, found[1:], strict=False):
        assert a_low <= a_high < b_low
    assert found[0][0] == low and found[-1][1] <= high
    assert all(b - a > 1000 for a, b in found)


def test_outside_xdist_the_whole_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    assert port_range() == PORT_RANGE
