"""The longest test files first (tests/support/schedule.py, tests/conftest.py): checked with
a real pytest and pytest-xdist on a scratch suite, and on the project's own collection."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import schedule
from support.scratch_suite import pytest_in, scratch

from helpers import ROOT

pytestmark = pytest.mark.integration

# each test appends its name to started.txt when it runs; the unit file has one long test,
# the integration file three short ones
UNIT = (
    "import time\n\ndef test_u():\n    open('started.txt', 'a').write('u\\n')\n"
    "    time.sleep(0.5)\n"
)
INTEGRATION = "".join(
    f"def test_i{n}():\n    open('started.txt', 'a').write('i{n}\\n')\n\n" for n in range(3)
)
XDIST = ("-n", "1", "--dist", "loadfile", "--no-loadscope-reorder")  # as `make test` runs


def started(folder: Path) -> list[str]:
    return (folder / "started.txt").read_text().split()


def test_the_longest_file_runs_first_and_the_report_gives_each_file_its_seconds(
    tmp_path: Path,
) -> None:
    suite = scratch(tmp_path, UNIT, INTEGRATION)
    # the unit file is listed as the long one: pytest-xdist's own order (the file with more
    # tests first) or the collection's (alphabetical) would start the integration file
    (suite / "tests" / "durations.json").write_text(
        json.dumps({"tests/integration/test_i.py": 1, "tests/unit/test_u.py": 60})
    )
    proc = pytest_in(suite, *XDIST, "--junitxml=report.xml", "tests")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert started(suite) == ["u", "i0", "i1", "i2"]
    seconds = schedule.from_junit(suite / "report.xml")
    assert set(seconds) == {"tests/integration/test_i.py", "tests/unit/test_u.py"}
    assert seconds["tests/unit/test_u.py"] >= 0.5 > seconds["tests/integration/test_i.py"]
    # the command `make test-durations` runs writes them as tests/durations.json reads them
    script = str(ROOT / "tests" / "support" / "schedule.py")
    cli = subprocess.run(
        [sys.executable, script, str(suite / "report.xml")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(cli.stdout) == seconds
    bad = subprocess.run(
        [sys.executable, script, str(suite / "nope.xml")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode == 2 and "usage" in bad.stderr and bad.stdout == ""


def test_the_project_s_files_are_collected_longest_first_and_whole() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "tests", "--ignore=tests/bench"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    files = [line.split("::", 1)[0] for line in proc.stdout.splitlines() if "::" in line]
    order = list(dict.fromkeys(files))
    # each file's tests are together
    assert len([f for i, f in enumerate(files) if i == 0 or files[i - 1] != f]) == len(order)
    assert order == schedule.longest_first(order, schedule.load())
    assert order[0] == max(schedule.load().items(), key=lambda kv: kv[1])[0]
