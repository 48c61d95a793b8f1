"""A sidecar as a real process: background work starts after the server listens, jobs run over
HTTP with a bearer token, SIGTERM gives a running job its grace then records it interrupted,
and a port already in use is a clear error with exit status 2."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests

from helpers import free_port, wait_for
from napops.core import audit

pytestmark = pytest.mark.integration
TOKEN = "lifecycle-token-0123456789"
KEY = "k" * 32

DEMO = textwrap.dedent(
    """
    import sys, time
    from napops.core import sidecar

    def setup(ctx):
        def slow(run):
            run.progress(0, 3)
            for i in range(3):
                time.sleep(float(ctx.section["step_seconds"]))
                run.progress(i + 1, 3)
            return {"steps": 3}
        ctx.add_job("slow", slow, schedule=ctx.section.get("schedule"))
        ctx.on_start.append(lambda: print("on_start", flush=True))

    SECTION = {"type": "object", "properties": {
        "step_seconds": {"type": "number", "default": 0.05},
        "schedule": {"type": "string"}}}
    sys.exit(sidecar.run("demo", SECTION, setup, sys.argv[1:]))
    """
)


def start(tmp_path: Path, port: int, **env: str) -> subprocess.Popen[str]:
    base = {
        "NAPOPS__LISTEN__PORT": str(port),
        "NAPOPS__STATE_DIR": str(tmp_path / "state"),
        "NAPOPS__API__TOKEN": TOKEN,
        "NAPOPS__AUDIT__PATH": str(tmp_path / "audit.jsonl"),
        "NAPOPS__AUDIT__KEY": KEY,
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.Popen(
        [sys.executable, "-c", DEMO],
        env={**base, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_jobs_over_http_and_graceful_shutdown(tmp_path: Path) -> None:
    port = free_port()
    proc = start(
        tmp_path, port, NAPOPS__DEMO__STEP_SECONDS="1", NAPOPS__SHUTDOWN_GRACE_SECONDS="0.5"
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: requests.get(f"{url}/healthz", timeout=2).ok, what="the sidecar")
        assert requests.post(f"{url}/jobs/slow/run", timeout=5).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert requests.post(f"{url}/jobs/slow/run", headers=wrong, timeout=5).status_code == 401
        auth = {"Authorization": f"Bearer {TOKEN}"}
        missing = requests.post(f"{url}/jobs/nope/run", headers=auth, timeout=5)
        assert missing.status_code == 404 and "no job named 'nope'" in missing.json()["reason"]
        first = requests.post(f"{url}/jobs/slow/run", headers=auth, timeout=5)
        assert first.status_code == 202
        run_id = first.json()["run_id"]
        second = requests.post(f"{url}/jobs/slow/run", headers=auth, timeout=5)
        assert second.status_code == 409 and second.json()["run_id"] == run_id
        wait_for(
            lambda: requests.get(f"{url}/jobs/runs/{run_id}", timeout=2).json()["done"] >= 1,
            what="progress",
        )
        status = requests.get(f"{url}/status", timeout=2).json()
        assert status["jobs"]["slow"]["running"]["run_id"] == run_id
        metrics = requests.get(f"{url}/metrics", timeout=2).text
        assert 'napops_job_running{job="slow"} 1.0' in metrics
        assert 'napops_job_progress_total{job="slow"} 3.0' in metrics
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert "on_start" in out.splitlines()
    run_lines = [line for line in lines if line.get("run_id") == run_id]
    assert {line["event"] for line in run_lines} >= {"job_started", "job_progress", "job_finished"}
    finished = [line for line in run_lines if line["event"] == "job_finished"][-1]
    assert finished["result"] == "interrupted"
    verdict = audit.verify(tmp_path / "audit.jsonl", KEY)
    assert verdict.ok
    record = json.loads((tmp_path / "audit.jsonl").read_text().splitlines()[-1])
    assert record["action"] == "job.slow" and record["data"]["result"] == "interrupted"


def test_on_start_runs_only_once_the_port_is_bound(tmp_path: Path) -> None:
    port = free_port()
    proc = start(tmp_path, port)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == "on_start":
                with socket.create_connection(("127.0.0.1", port), timeout=2):
                    pass  # already accepting when on_start ran
                break
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_port_in_use_is_exit_2_without_a_traceback(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = start(tmp_path, port)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert f"napops-demo: cannot listen on 127.0.0.1:{port}: address already in use" in err
    assert "Traceback" not in err


def test_a_bad_schedule_is_a_configuration_error(tmp_path: Path) -> None:
    proc = start(tmp_path, free_port(), NAPOPS__DEMO__SCHEDULE="0 25 * * *")
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2 and "At 'demo': '0 25 * * *' is not a valid cron" in err
    check = subprocess.run(
        [sys.executable, "-c", DEMO, "--check-config"],
        env={"NAPOPS__DEMO__SCHEDULE": "0 25 * * *", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert check.returncode == 2 and "not a valid cron" in check.stderr
