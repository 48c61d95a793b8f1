"""``napops jobs run SIDECAR JOB``: a real sidecar job run by the operator CLI in its own
process, with progress on stderr and the exit status saying how it went.

The job is the relay's ``outbox-maintenance`` (expire deliveries older than
``outbox.max_age_seconds``, prune finished ones) on a real outbox (SQLite) in the relay's
``state_dir``, the way an operator runs it inside the relay's container. Deliveries given up
as too old mark the run failed (messages were lost).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from napops.relay.outbox import Outbox

pytestmark = pytest.mark.integration

NAPOPS = str(Path(sys.executable).parent / "napops")
JOB = "outbox-maintenance"
MAX_AGE = 3600


def relay_config(tmp_path: Path) -> Path:
    path = tmp_path / "relay.yml"
    section = {
        "state_dir": str(tmp_path / "state"),
        "token": "jobcli-token-0123456789",
        "channels": {"rocketchat": {"webhook_url": "http://127.0.0.1:9/hooks/a/b"}},
        "outbox": {"max_age_seconds": MAX_AGE},
    }
    path.write_text(yaml.safe_dump({"relay": section}))
    return path


def queue(tmp_path: Path, *ages: float) -> None:
    """Notices waiting for Rocket.Chat in the relay's outbox, received ``ages`` seconds ago."""
    (tmp_path / "state").mkdir(exist_ok=True)
    box = Outbox(tmp_path / "state" / "outbox.sqlite3")
    try:
        for i, age in enumerate(ages):
            body = {"title": f"n{i}", "text": "", "severity": "info", "status": "firing"}
            box.add("notice", body, ["rocketchat"], now=time.time() - age, bounded=False)
    finally:
        box.close()


def pending(tmp_path: Path) -> int:
    box = Outbox(tmp_path / "state" / "outbox.sqlite3")
    try:
        return box.count("pending")
    finally:
        box.close()


def napops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NAPOPS, *args], capture_output=True, text=True, timeout=60)


def test_a_run_with_nothing_to_give_up_succeeds_with_progress_on_stderr(tmp_path):
    config = relay_config(tmp_path)
    queue(tmp_path, 10)  # young: kept
    proc = napops("jobs", "run", "relay", JOB, "--config", str(config))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith(f"{JOB} run ") and ": success in " in proc.stdout
    assert "  expired: 0\n" in proc.stdout
    progress = [line.strip() for line in proc.stderr.splitlines() if line.startswith("  ")]
    assert progress == [f"{JOB}: 0 of 2 steps", f"{JOB}: 1 of 2 steps", f"{JOB}: 2 of 2 steps"]
    assert pending(tmp_path) == 1


def test_deliveries_given_up_fail_the_run_with_exit_1(tmp_path):
    config = relay_config(tmp_path)
    queue(tmp_path, 10, MAX_AGE + 60, MAX_AGE + 120)
    proc = napops("jobs", "run", "relay", JOB, "--config", str(config), "--json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    run = json.loads(proc.stdout)
    assert run["state"] == "failed" and run["trigger"] == "cli"
    assert run["summary"]["expired"] == 2
    assert run["summary"]["failed"] == [
        f"rocketchat: 2 undelivered deliveries older than {MAX_AGE}s expired"
    ]
    assert f"{JOB}: 2 of 2 steps" in proc.stderr
    assert pending(tmp_path) == 1  # the young one is still queued


def test_usage_and_configuration_problems_exit_2(tmp_path):
    config = relay_config(tmp_path)
    unknown = napops("jobs", "run", "relay", "no-such-job", "--config", str(config))
    assert unknown.returncode == 2 and "no-such-job" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml.safe_dump({"relay": {"token": "short"}}))
    invalid = napops("jobs", "run", "relay", JOB, "--config", str(bad))
    assert invalid.returncode == 2
    assert "At 'relay.token'" in invalid.stderr and "Traceback" not in invalid.stderr
