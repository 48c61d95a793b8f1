"""Shared test set-up. Helpers that tests import live in tests/helpers.py and tests/support/.

Folder and marker agree: every test under tests/integration is marked ``integration``, under
tests/e2e ``e2e``, under tests/bench ``bench`` (added here, whatever the file says); a test
under tests/unit may carry none of them, and starts no process and opens no socket
(tests/unit/conftest.py refuses both).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))
# compose/estate.py, the estate tool: tests render and list the estate through it
sys.path.insert(0, str(TESTS.parent / "compose"))

from support import schedule  # noqa: E402 - needs the sys.path above

try:
    DURATIONS = schedule.load()
except ValueError as exc:  # a hand-edited file: say so, not a traceback
    raise pytest.UsageError(str(exc)) from None
FOLDER_MARKERS = {"integration": "integration", "e2e": "e2e", "bench": "bench"}

# `make test` runs files in parallel (pytest-xdist, `-n`, `--dist loadfile`): a file is one unit
# of work, so its module fixtures start once. Files are collected longest first
# (tests/support/schedule.py) and handed out in that order (`--no-loadscope-reorder`).
# Files of the Docker Engine suites run side by side too: everything a test creates on the
# engine has a name, label, Compose project or backup environment of its own, and it removes
# only that.


def folder_of(item: pytest.Item) -> str:
    """The first folder under tests/ that holds the test's file ("" for tests/ itself)."""
    try:
        parts = Path(str(item.path)).resolve().relative_to(TESTS).parts
    except ValueError:
        return ""
    return parts[0] if len(parts) > 1 else ""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    misplaced = []
    for item in items:
        folder = folder_of(item)
        if folder in FOLDER_MARKERS:
            item.add_marker(FOLDER_MARKERS[folder])
        elif folder == "unit":
            marked = sorted(set(FOLDER_MARKERS.values()) & {m.name for m in item.iter_markers()})
            if marked:
                misplaced.append(f"{item.nodeid}: marked {', '.join(marked)}")
    if misplaced:
        raise pytest.UsageError(
            "tests under tests/unit start nothing; move these to tests/integration or "
            "tests/e2e:\n  " + "\n  ".join(misplaced)
        )
    # longest files first, each file's tests together and in their own order (a stable sort)
    rank = {f: i for i, f in enumerate(schedule.longest_first(map(file_of, items), DURATIONS))}
    items.sort(key=lambda item: rank[file_of(item)])


def file_of(item: pytest.Item) -> str:
    """The test's file relative to the repository, as tests/durations.json names it."""
    return Path(item.nodeid.split("::", 1)[0]).as_posix()
