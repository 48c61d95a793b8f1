"""The order `make test` hands test files to its pytest-xdist workers: longest first.

`make test` runs files in parallel, a file per worker at a time (``--dist loadfile``), and
pytest-xdist by default starts the files with the most tests first. The longest files have
few tests (a two-minute outage is one test), so they started last and the run waited for
them at the end. Handing out the longest files first ("longest processing time first")
lets the short ones fill the gaps instead.

A file's length comes from tests/durations.json: seconds per file, measured by a full run
(``make test`` writes its JUnit report to .test-report.xml; ``make test-durations`` turns
that into the file). A file it does not list yet counts as ``UNKNOWN_SECONDS``. The order
only changes how long the run takes, never what runs or what passes.

    python3 tests/support/schedule.py REPORT.xml > tests/durations.json
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
DURATIONS = TESTS / "durations.json"
UNKNOWN_SECONDS = 10.0  # a new file: between most unit files and most Docker ones


def load(path: Path = DURATIONS) -> dict[str, float]:
    """Seconds per test file (path relative to the repository), {} when there is no file."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        return {str(k): float(v) for k, v in data.items()}
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(
            f"At '{path.name}': not an object of seconds per test file ({exc}); "
            "rewrite it with `make test-durations` after a full `make test`"
        ) from None


def longest_first(files: Iterable[str], seconds: dict[str, float]) -> list[str]:
    """``files`` ordered by their expected seconds, longest first; ties by name."""
    return sorted(set(files), key=lambda f: (-seconds.get(f, UNKNOWN_SECONDS), f))


def from_junit(report: Path) -> dict[str, float]:
    """Seconds per test file of a JUnit report pytest wrote (``--junitxml``): every test's
    time (set-up, call and tear-down) added up by file."""
    totals: dict[str, float] = {}
    for case in ET.parse(report).iter("testcase"):
        name = _file_of_classname(case.get("classname", ""))
        totals[name] = totals.get(name, 0.0) + float(case.get("time", "0"))
    return {f: round(s, 1) for f, s in sorted(totals.items())}


def _file_of_classname(classname: str) -> str:
    """tests.unit.test_x (or tests.unit.test_x.TestClass) to tests/unit/test_x.py."""
    parts = classname.split(".")
    if parts and parts[-1][:1].isupper():
        parts = parts[:-1]
    return "/".join(parts) + ".py"


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_file():
        print("usage: schedule.py REPORT.xml  (a JUnit report of a full run)", file=sys.stderr)
        return 2
    json.dump(from_junit(Path(argv[0])), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
