"""The probe process's bound and exit reasons (worker.py), without starting a process."""

from __future__ import annotations

import pickle

from napops.certs.sources import SourceError, Target
from napops.certs.worker import SLACK_SECONDS, _exit_text, bound_seconds


def test_bound_is_every_wave_taking_its_longest_timeout() -> None:
    targets = [Target(f"h{i}:443", "endpoint", 10.0) for i in range(65)]
    targets.append(Target("slow:443", "endpoint", 30.0))
    # 66 targets, 32 at a time: 3 waves
    assert bound_seconds({"concurrency": 32}, targets) == 3 * 30.0 + SLACK_SECONDS
    assert bound_seconds({"concurrency": 32}, []) == SLACK_SECONDS


def test_exit_reasons_name_the_signal() -> None:
    assert _exit_text(-9) == "signal SIGKILL"
    assert _exit_text(-15) == "signal SIGTERM"
    assert _exit_text(1) == "exit status 1"


def test_a_target_with_its_problem_crosses_to_the_child() -> None:
    target = Target("x", "file", 1.0, problem=SourceError("file_missing", "x is gone"))
    back = pickle.loads(pickle.dumps(target))  # SourceError's args are not its __init__'s
    assert back.name == "x" and back.problem is not None
    assert (back.problem.reason, back.problem.detail) == ("file_missing", "x is gone")
