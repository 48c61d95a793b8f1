"""tests/support/schedule.py: test files longest first, new files in between, ties by name."""

from __future__ import annotations

from support.schedule import UNKNOWN_SECONDS, _file_of_classname, longest_first


def test_longest_first_with_unknown_files_at_the_unknown_length() -> None:
    seconds = {"a.py": 1.0, "b.py": 274.0, "c.py": UNKNOWN_SECONDS + 1, "d.py": 0.2}
    files = ["a.py", "a.py", "d.py", "new.py", "c.py", "b.py"]
    assert longest_first(files, seconds) == ["b.py", "c.py", "new.py", "a.py", "d.py"]


def test_ties_are_ordered_by_name_so_every_worker_collects_the_same_order() -> None:
    assert longest_first(["z.py", "m.py", "a.py"], {}) == ["a.py", "m.py", "z.py"]


def test_a_junit_classname_names_its_file() -> None:
    assert _file_of_classname("tests.unit.core.test_jobs") == "tests/unit/core/test_jobs.py"
    assert _file_of_classname("tests.e2e.test_stack.TestUp") == "tests/e2e/test_stack.py"
