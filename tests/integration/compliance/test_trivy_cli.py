"""The Trivy CLI path of the vulnerability job. Trivy cannot run on these machines (no binary,
no vulnerability database): a stand-in executable at the configured `trivy` path answers the
exact command line the job runs with a real recorded report (tests/fixtures/trivy), and fails
as Trivy does (exit 1, message on stderr) for an image it cannot scan. What is tested: the
command line (format, quiet, server mode), the parsing of real output, and failures."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from helpers import FIXTURES
from napops.compliance import trivy
from napops.core.commands import CommandFailed

pytestmark = pytest.mark.integration

STAND_IN = """#!/bin/sh
# records its arguments, then answers like `trivy image --format json --quiet IMAGE`
printf '%s\\n' "$@" > "{log}"
eval "last=\\${{$#}}"
case "$last" in
  broken:*) echo "FATAL image scan error: unable to find the specified image" >&2; exit 1 ;;
  *) cat "{report}" ;;
esac
"""


def stand_in(tmp_path: Path) -> tuple[Path, Path]:
    report = tmp_path / "report.json"
    shutil.copy(FIXTURES / "trivy" / "debian-buster.json", report)
    log = tmp_path / "argv"
    exe = tmp_path / "trivy"
    exe.write_text(STAND_IN.format(log=log, report=report))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe, log


def test_the_cli_is_run_as_the_job_configures_it_and_its_report_counted(tmp_path: Path) -> None:
    exe, log = stand_in(tmp_path)
    result = trivy.scan("lcbp3-backend:1.8.6", str(exe), server="http://trivy:4954")
    assert log.read_text().split() == [
        "image",
        "--format",
        "json",
        "--quiet",
        "--server",
        "http://trivy:4954",
        "lcbp3-backend:1.8.6",
    ]
    expected = trivy.parse(json.loads((FIXTURES / "trivy" / "debian-buster.json").read_text()))
    assert result.counts == expected.counts and result.counts["CRITICAL"] == 1
    assert result.fixable["CRITICAL"] == 1


def test_a_failing_scan_is_a_clear_error(tmp_path: Path) -> None:
    exe, _ = stand_in(tmp_path)
    with pytest.raises(CommandFailed, match="scan failed: FATAL image scan error"):
        trivy.scan("broken:1", str(exe))
