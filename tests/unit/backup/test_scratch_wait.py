"""Waiting for a throwaway server: a container that exits is not waited for until the
timeout; its status and last output are the reason."""

from __future__ import annotations

from typing import Any

import pytest

from napops.backup.strategies import common
from napops.backup.strategies.common import StrategyError, wait_until


class Api:
    def logs(self, container: str, tail: int) -> bytes:
        return b"entrypoint: the bootstrap server exited\n"


class Engine:
    api = Api()

    def __init__(self, running: bool):
        self.running = running

    def inspect(self, name: str) -> dict[str, Any]:
        return {"State": {"Running": self.running, "ExitCode": 0 if self.running else 1}}


def test_an_exited_container_fails_at_once_with_its_output(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(common.time, "sleep", slept.append)
    with pytest.raises(StrategyError) as err:
        wait_until(lambda: False, 300, "MariaDB in s1", Engine(running=False), "s1")  # type: ignore[arg-type]
    assert str(err.value) == (
        "MariaDB in s1: the container exited (status 1) before it was ready; "
        "its last output: entrypoint: the bootstrap server exited"
    )
    assert slept == []


def test_a_running_container_is_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([False, False, True])
    slept: list[float] = []
    monkeypatch.setattr(common.time, "sleep", slept.append)
    wait_until(lambda: next(answers), 300, "MariaDB in s1", Engine(running=True), "s1")  # type: ignore[arg-type]
    assert slept == [0.5, 0.5]
