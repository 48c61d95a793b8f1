"""The run's bytes progress from restic's status messages of parallel streams."""

from __future__ import annotations

from napops.backup.progress import ByteProgress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_parallel_streams_add_up_and_reports_are_limited_to_one_per_interval():
    reports: list[int] = []
    clock = Clock()
    p = ByteProgress(lambda done, total: reports.append(done), interval=1.0, clock=clock)
    p.status("mariadb/mariadb/dump.sql", {"message_type": "status", "bytes_done": 100})
    clock.now = 0.5
    p.status("cache/redis/dump.rdb", {"message_type": "status", "bytes_done": 40})
    assert reports == [100]  # the second came within the interval
    assert p.done == 140
    clock.now = 1.2
    p.status("mariadb/mariadb/dump.sql", {"message_type": "status", "bytes_done": 300})
    assert reports == [100, 340]
    # a part that finishes reports at once, with restic's summary figure
    clock.now = 1.3
    p.finished("cache/redis/dump.rdb", 64)
    assert reports[-1] == 364
    # a failed part's bytes stop counting
    p.abandoned("mariadb/mariadb/dump.sql")
    assert p.done == 64


def test_a_status_without_bytes_counts_as_zero_and_no_report_function_is_fine():
    p = ByteProgress(None)
    p.status("x/files/a.tar", {"message_type": "status", "percent_done": 0})
    p.finished("x/files/a.tar", 10)
    assert p.done == 10
