"""The run's logic with its collaborators replaced (the real ones are in tests/e2e/backup):
retries with backoff only for an unreachable or locked repository, a failed dump fails its
item alone, retention only after a run without failures, both exit statuses checked."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from napops.backup.items import Item
from napops.backup.restic import BackupSummary, ResticError
from napops.backup.runner import Runner, RunRefused, Settings
from napops.backup.state import State
from napops.core.dockerhost import DockerError


class Stream:
    def __init__(self, data: bytes, exit_code: int):
        self.data, self.code = data, exit_code

    def __iter__(self) -> Iterator[bytes]:
        yield self.data

    def check(self) -> None:
        if self.code:
            raise DockerError(f"dump: exit status {self.code}: broken")


class Engine:
    def __init__(self, exits: dict[str, int]):
        self.exits = exits

    def inspect(self, name: str) -> dict[str, Any]:
        if name == "gone":
            raise DockerError("container gone: not found")
        return {"Config": {"Env": []}, "State": {"Running": True}}

    def exec_stream(self, container: str, argv: list[str], **kw: Any) -> Stream:
        return Stream(b"dump of " + container.encode(), self.exits.get(container, 0))


class Restic:
    repository = "sftp:asustor:/repo"  # remote: no free-space measurement

    def __init__(self, failures: list[ResticError | None] | None = None):
        self.failures = list(failures or [])
        self.stored: list[str] = []
        self.ids: dict[str, str] = {}
        self.forgotten: list[str] = []
        self.forget_failures: list[ResticError] = []
        self.events: list[str] = []
        self.pruned = False

    def preflight(self) -> None:
        pass

    def stats(self) -> dict[str, int]:
        return {"total_size": 123}

    def locks(self) -> list[Any]:
        return []

    def backup_stdin(
        self,
        filename: str,
        chunks: Iterable[bytes],
        tags: dict[str, str],
        on_progress: Any = None,
    ) -> BackupSummary:
        data = b""
        for chunk in chunks:  # restic's status messages as the stream goes
            data += chunk
            if on_progress is not None:
                on_progress({"message_type": "status", "bytes_done": len(data)})
        failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            raise failure
        self.stored.append(filename)
        self.events.append(f"stored {filename}")
        self.ids[filename] = f"snap{len(self.stored)}"
        return BackupSummary(f"snap{len(self.stored)}", 1, len(data), len(data) // 2, 0.1)

    def call(self, *args: str) -> None:
        assert args[0] == "forget"
        if self.forget_failures:
            raise self.forget_failures.pop(0)
        self.events.append("forget")
        self.forgotten += args[1:]

    def forget_prune(self, daily: int, weekly: int, monthly: int) -> str:
        self.pruned = True
        return ""


def runner(tmp_path: Path, engine: Engine, restic: Restic, sleeps: list[float]) -> Runner:
    settings = Settings("prod", parallelism=2, attempts=3, backoff_seconds=10)
    return Runner(engine, restic, State(tmp_path / "s.json"), settings, sleep=sleeps.append)  # type: ignore[arg-type]


def cmd(service: str, container: str) -> Item:
    return Item(service, "command", container, "files", {"argv": ["dump"]})


def test_an_unreachable_repository_is_retried_with_backoff_then_the_item_fails(
    tmp_path: Path,
) -> None:
    lost = ResticError("restic backup: fatal", 1, "open /repo/data/1f: no such file or directory")
    restic, sleeps = Restic([lost, lost, lost]), []
    summary = runner(tmp_path, Engine({}), restic, sleeps).run([cmd("a", "c1")], "run1")
    assert sleeps == [10, 20]
    assert summary["failed"] == ["a/command"]
    assert summary["errors"]["a/command"].startswith("repository unreachable after 3 attempt(s)")
    assert summary["pruned"] is False


def test_a_retry_that_succeeds_stores_the_item(tmp_path: Path) -> None:
    locked = ResticError("restic backup: locked", 11, "")
    restic, sleeps = Restic([locked]), []
    summary = runner(tmp_path, Engine({}), restic, sleeps).run([cmd("a", "c1")], "run1")
    assert sleeps == [10] and summary["failed"] == [] and summary["pruned"] is True
    assert restic.stored == ["a/a.out", "a/manifest.json"]


def test_a_failed_dump_fails_its_item_alone_without_retry(tmp_path: Path) -> None:
    restic, sleeps = Restic(), []
    summary = runner(tmp_path, Engine({"bad": 2}), restic, sleeps).run(
        [cmd("a", "good"), cmd("b", "bad"), cmd("c", "gone")], "run1"
    )
    assert sleeps == []
    assert summary["succeeded"] == ["a/command"]
    assert summary["failed"] == ["b/command", "c/command"]
    assert summary["errors"]["b/command"] == "dump: exit status 2: broken"
    assert "not reachable before the run" in summary["errors"]["c/command"]
    # the stream restic stored from the failed dump is forgotten
    assert restic.forgotten == [restic.ids["b/b.out"]]
    assert "b/manifest.json" not in restic.stored
    assert summary["pruned"] is False


def test_the_parts_of_a_failed_dump_are_forgotten_after_every_item_is_stored(
    tmp_path: Path,
) -> None:
    # forget takes restic's exclusive lock, which a backup running beside it holds: the
    # parts are forgotten once the run's items are done, and a lock held by someone else
    # is waited out with the run's backoff
    restic, sleeps = Restic(), []
    restic.forget_failures = [ResticError("restic forget: locked", 11, "")]
    summary = runner(tmp_path, Engine({"bad": 2}), restic, sleeps).run(
        [cmd("b", "bad"), cmd("a", "good"), cmd("d", "good")], "run1"
    )
    assert summary["failed"] == ["b/command"]
    assert restic.events[-1] == "forget" and restic.events.count("forget") == 1
    assert restic.forgotten == [restic.ids["b/b.out"]]
    assert sleeps == [10]


def test_a_declaration_error_refuses_the_run_before_anything_runs(tmp_path: Path) -> None:
    restic = Restic()
    bad = Item("x", "files", "c1", "files", {"paths": ["relative"]})
    with pytest.raises(RunRefused, match="At 'x/files.options.paths': 'relative' must be absolute"):
        runner(tmp_path, Engine({}), restic, []).run([cmd("a", "c1"), bad], "run1")
    assert restic.stored == []


def test_bytes_progress_reports_the_dumps_streamed_not_the_manifests(tmp_path: Path) -> None:
    restic, reports = Restic(), []
    summary = runner(tmp_path, Engine({"bad": 2}), restic, []).run(
        [cmd("a", "good"), cmd("b", "other"), cmd("c", "bad")],
        "run1",
        progress_bytes=lambda done, total: reports.append((done, total)),
    )
    assert summary["succeeded"] == ["a/command", "b/command"]
    # every report is of unknown total (dumps are streams); the last one counts the parts
    # restic stored: both good dumps and the failed one's stream (it was stored, then the
    # dump's exit status failed the item)
    assert {total for _, total in reports} == {None}
    streamed = len(b"dump of good") + len(b"dump of other") + len(b"dump of bad")
    assert reports[-1][0] == streamed == summary["bytes_processed"] + len(b"dump of bad")
