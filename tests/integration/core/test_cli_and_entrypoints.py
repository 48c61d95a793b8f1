"""The CLI and the sidecar entry points as a user runs them: real processes, real exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from helpers import SIDECARS, free_port, wait_for
from napops.core.audit import AuditTrail

BIN = Path(sys.executable).parent
KEY = "cli-test-key-0123456789"


@pytest.fixture()
def trail(tmp_path: Path) -> tuple[Path, Path]:
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n", encoding="utf-8")
    path = tmp_path / "audit.jsonl"
    t = AuditTrail(path, KEY)
    for i in range(3):
        t.append("backup.done", {"i": i})
    return path, key_file


def napops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "napops"), *args], capture_output=True, text=True, timeout=60)


def test_trail_verify_ok_and_bad(trail: tuple[Path, Path]) -> None:
    path, key_file = trail
    ok = napops("trail", "verify", str(path), "--key-file", str(key_file))
    assert ok.returncode == 0 and ok.stdout.startswith("OK: 3 records")
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + lines[2])
    bad = napops("trail", "verify", str(path), "--key-file", str(key_file), "--json")
    assert bad.returncode == 1
    verdict = json.loads(bad.stdout)
    assert verdict["ok"] is False and verdict["line"] == 2


def test_trail_verify_usage_errors(tmp_path: Path, trail: tuple[Path, Path]) -> None:
    path, _ = trail
    no_key = napops("trail", "verify", str(path))
    assert no_key.returncode != 0 and "--key-file" in no_key.stderr
    (tmp_path / "k").write_text(KEY, encoding="utf-8")
    missing = napops("trail", "verify", str(tmp_path / "absent"), "--key-file", str(tmp_path / "k"))
    assert missing.returncode == 2 and "cannot read trail" in missing.stderr
    assert napops("--help").returncode == 0


@pytest.mark.parametrize("service", SIDECARS)
def test_sidecar_with_invalid_configuration_exits_2_listing_every_problem(
    service: str, tmp_path: Path
) -> None:
    cfg = tmp_path / "bad.yml"
    cfg.write_text("listen: {port: zero}\nlog_level: LOUD\nsurprise: 1\n", encoding="utf-8")
    proc = subprocess.run(
        [str(BIN / f"napops-{service}"), "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "At 'listen.port': expected integer, got str" in proc.stderr
    assert "At 'log_level': 'LOUD' is not one of" in proc.stderr
    assert "At 'surprise': unknown key" in proc.stderr


def test_sidecar_serves_metrics_health_and_ready(tmp_path: Path) -> None:
    port = free_port()
    cfg = tmp_path / "certs.yml"
    cfg.write_text(f"listen: {{port: {port}}}\n", encoding="utf-8")
    proc = subprocess.Popen(
        [str(BIN / "napops-certs"), "--config", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: requests.get(f"{base}/healthz", timeout=2).ok, what="certs /healthz")
        assert requests.get(f"{base}/readyz", timeout=2).status_code == 200
        metrics = requests.get(f"{base}/metrics", timeout=2).text
        assert "napops_build_info{python=" in metrics and 'service="certs"' in metrics
        big = requests.post(f"{base}/anything", data=b"x" * (2 << 20), timeout=10)
        assert big.status_code == 413 and "limit" in big.json()["reason"]
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    events = [json.loads(line)["event"] for line in out.splitlines() if line.startswith("{")]
    assert events[0] == "start" and events[-1] == "stop" and "stopping" in events


def test_docker_sidecar_is_not_ready_without_an_engine(tmp_path: Path) -> None:
    port = free_port()
    cfg = tmp_path / "deploy.yml"
    cfg.write_text(
        f"listen: {{port: {port}}}\ndocker: {{host: 'unix://{tmp_path}/no.sock'}}\n",
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [str(BIN / "napops-deploy"), "--config", str(cfg)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: requests.get(f"{base}/healthz", timeout=2).ok, what="deploy /healthz")
        resp = requests.get(f"{base}/readyz", timeout=10)
        assert resp.status_code == 503 and resp.json()["checks"]["docker"].startswith("failed")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
