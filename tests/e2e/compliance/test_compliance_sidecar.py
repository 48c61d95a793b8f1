"""The compliance sidecar as a process against the real engine: the first audit fills the
metrics, an unreachable engine is a metric and a failed run (no crash), a bad policy or a
malformed Trivy report is a clear error."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import requests
from support.compliance import TOKEN, start_compliance

from helpers import FIXTURES, ROOT, require_docker, wait_for

pytestmark = pytest.mark.e2e


def start(
    tmp_path: Path, docker_host: str, policy: Path, reports: str
) -> tuple[subprocess.Popen[str], str]:
    return start_compliance(tmp_path, docker_host, policy, reports)


def metric(url: str, line_start: str) -> list[str]:
    text = requests.get(f"{url}/metrics", timeout=5).text
    return [line for line in text.splitlines() if line.startswith(line_start)]


def test_the_first_audit_and_the_reports_become_metrics(tmp_path: Path) -> None:
    require_docker()
    reports = tmp_path / "trivy"
    reports.mkdir()
    shutil.copy(FIXTURES / "trivy" / "debian-buster.json", reports)
    (reports / "broken.json").write_text('{"SchemaVersion": 1}')
    # a container of this test's own, so the audit has something to report on any engine
    box = f"napops-test-compliance-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["docker", "run", "-d", "--name", box, "napops-local/debian:bookworm", "sleep", "300"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    proc, url = start(
        tmp_path,
        "unix:///var/run/docker.sock",
        ROOT / "compose" / "policy.yml",
        f"{reports}/*.json",
    )
    try:
        wait_for(
            lambda: metric(url, 'napops_compliance_last_audit_timestamp_seconds{kind="runtime"} 1'),
            timeout=60,
            what="the first runtime audit",
        )
        assert metric(url, "napops_compliance_check{")
        assert metric(url, "napops_compliance_ratio{")
        auth = {"Authorization": f"Bearer {TOKEN}"}
        run = requests.post(f"{url}/jobs/vulnerabilities/run", headers=auth, timeout=5)
        assert run.status_code == 202
        run_id = run.json()["run_id"]
        done = wait_for(
            lambda: (
                (r := requests.get(f"{url}/jobs/runs/{run_id}", timeout=5).json())["finished"] and r
            ),
            what="the vulnerability run",
        )
        assert done["state"] == "failed" and "SchemaVersion is 1" in done["error"]
        crit = metric(
            url,
            'napops_compliance_vulnerabilities{image="testdata/fixtures/images/debian-buster.tar.gz",vuln_severity="CRITICAL"}',
        )
        assert crit and crit[0].endswith(" 1.0")
        assert metric(url, 'napops_compliance_audit_failed{kind="vulnerabilities"} 1.0')
    finally:
        subprocess.run(["docker", "rm", "-f", box], capture_output=True, timeout=60)
        proc.terminate()
        proc.wait(20)


def test_an_unreachable_engine_is_a_metric_not_a_crash(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text("{}\n")
    proc, url = start(tmp_path, "tcp://127.0.0.1:1", policy, "/nonexistent/*.json")
    try:
        wait_for(
            lambda: metric(url, 'napops_compliance_audit_failed{kind="runtime"} 1.0'),
            timeout=60,
            what="the failed audit",
        )
        ready = requests.get(f"{url}/readyz", timeout=10)
        assert (
            ready.status_code == 503
            and "cannot reach the engine" in ready.json()["checks"]["docker"]
        )
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(20)


def test_a_bad_policy_stops_the_start_with_its_problems(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text("waivers:\n  - {check: nope, service: x}\n")
    proc, _ = start(tmp_path, "unix:///var/run/docker.sock", policy, "/x/*.json")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "At 'compliance.policy_file': At '" in err and "waivers[0].check" in err
    assert "waivers[0].reason': required but missing" in err and "Traceback" not in err
