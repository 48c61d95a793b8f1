"""tests/support/schedule.py: test files longest first, new files in between, ties by name."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.schedule import UNKNOWN_SECONDS, _file_of_classname, load, longest_first


def test_longest_first_with_unknown_files_at_the_unknown_length() -> None:
    seconds = {"a.py": 1.0, "b.py": 274.0, "c.py": UNKNOWN_SECONDS + 1, "d.py": 0.2}
    files = ["a.py", "a.py", "d.py", "new.py", "c.py", "b.py"]
    assert longest_first(files, seconds) == ["b.py", "c.py", "new.py", "a.py", "d.py"]


def test_ties_are_ordered_by_name_so_every_worker_collects_the_same_order() -> None:
    assert longest_first(["z.py", "m.py", "a.py"], {}) == ["a.py", "m.py", "z.py"]


def test_a_junit_classname_names_its_file() -> None:
    assert _file_of_classname("tests.unit.core.test_jobs") == "tests/unit/core/test_jobs.py"
    assert _file_of_classname("tests.e2e.test_stack.TestUp") == "tests/e2e/test_stack.py"


@pytest.mark.parametrize("text", ["[1, 2]", '{"tests/a.py": "long"}', "{not json"])
def test_a_broken_durations_file_is_named_with_the_way_to_rewrite_it(
    tmp_path: Path, text: str
) -> None:
    path = tmp_path / "durations.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=r"^At 'durations.json': .*make test-durations"):
        load(path)
    assert load(tmp_path / "missing.json") == {}
