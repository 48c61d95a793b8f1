"""Probe rounds in a child process (worker.ProcessRounds), against real TLS listeners: what
the parent keeps across rounds (the certificates a failing target showed before, the files a
glob found before) still works, a child killed mid-round is a failed round with a reason and
the next round runs, shutdown terminates the child, and the sidecar stopped by SIGTERM during
a round leaves no probe process behind."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from certpki import Hang, Pki, TlsServer, write_chain

from helpers import free_port, wait_for
from napops.certs.probe import Prober
from napops.certs.worker import ProcessRounds, RoundFailed
from napops.core.jobs import Interrupted

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent


def section(trust: Path, **kw: Any) -> dict[str, Any]:
    return {
        "timeout_seconds": 1.5,
        "concurrency": 4,
        "trust_store": [str(trust)],
        "acme_issuers": [],
        "endpoints": [],
        "files": [],
        **kw,
    }


def when_child_runs(act: Callable[[multiprocessing.Process], None]) -> threading.Thread:
    """Call ``act`` with the round's child process once it is running (in a thread)."""

    def watch() -> None:
        child = wait_for(
            lambda: next(iter(multiprocessing.active_children()), None),
            timeout=30,
            interval=0.02,
            what="the probe process",
        )
        act(child)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_parent_keeps_carry_over_and_vanished_files(pki: Pki, trust: Path, tmp_path: Path) -> None:
    server = TlsServer(*write_chain(tmp_path, "a", pki.leaf("localhost"), pki.inter))
    live = tmp_path / "live"
    live.mkdir()
    (live / "cert.pem").write_bytes(pki.leaf("dms.example.test").pem())
    cfg = section(
        trust,
        endpoints=[{"target": server.target}],
        files=[{"path": str(live / "*.pem")}],
    )
    rounds = ProcessRounds(Prober(cfg))
    progress: list[tuple[int, int]] = []
    first = {
        r.target: r for r in rounds.round(on_progress=lambda d, t: progress.append((d, t))).results
    }
    assert first[server.target].success and first[server.target].certs[0].verification == "ok"
    assert first[str(live / "cert.pem")].success
    assert progress == [(2, 2)]  # every 25 targets and the last
    assert rounds.last_child_peak_rss_bytes > 0
    served = first[server.target].certs

    server.close()
    (live / "cert.pem").unlink()
    second = {r.target: r for r in rounds.round().results}
    endpoint, vanished = second[server.target], second[str(live / "cert.pem")]
    assert not endpoint.success and endpoint.certs == served  # carried over in the parent
    assert vanished.reason == "file_missing"  # the glob's earlier find kept in the parent


def test_killed_child_is_a_failed_round_and_the_next_runs(
    pki: Pki, trust: Path, tmp_path: Path
) -> None:
    hang = Hang()
    good = TlsServer(*write_chain(tmp_path, "g", pki.leaf("localhost"), pki.inter))
    try:
        cfg = section(
            trust,
            endpoints=[{"target": hang.target, "timeout_seconds": 20}, {"target": good.target}],
        )
        rounds = ProcessRounds(Prober(cfg))
        killer = when_child_runs(lambda child: os.kill(child.pid or 0, signal.SIGKILL))
        with pytest.raises(RoundFailed, match="signal SIGKILL"):
            rounds.round()
        killer.join()
        assert multiprocessing.active_children() == []

        cfg["endpoints"] = [{"target": good.target}]
        again = ProcessRounds(Prober(cfg)).round()
        assert [r.success for r in again.results] == [True]
    finally:
        hang.close()
        good.close()


def test_shutdown_terminates_the_child(trust: Path) -> None:
    hang = Hang()
    try:
        cfg = section(trust, endpoints=[{"target": hang.target, "timeout_seconds": 60}])
        stop = threading.Event()
        when_child_runs(lambda _child: stop.set())
        with pytest.raises(Interrupted):
            ProcessRounds(Prober(cfg)).round(should_stop=stop.is_set)
        assert multiprocessing.active_children() == []
    finally:
        hang.close()


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_sigterm_during_a_round_leaves_no_probe_process(trust: Path, tmp_path: Path) -> None:
    hang = Hang()
    port = free_port()
    config = {
        "api": {"token": "worker-token-0123456789abcdef"},
        "certs": section(trust, endpoints=[{"target": hang.target, "timeout_seconds": 120}]),
    }
    (tmp_path / "certs.yml").write_text(yaml.safe_dump(config))
    proc = subprocess.Popen(
        [str(BIN / "napops-certs"), "--config", str(tmp_path / "certs.yml")],
        env={"PATH": "/usr/bin:/bin", "NAPOPS__LISTEN__PORT": str(port),
             "NAPOPS__STATE_DIR": str(tmp_path / "state")},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"

        def round_running() -> bool:
            status = requests.get(f"{url}/status", timeout=5).json()["jobs"]["probe"]
            return status["running"] is not None

        wait_for(round_running, timeout=30, what="the start-up round")
        # the sidecar, the forkserver and the round's process
        helpers = wait_for(
            lambda: d if len(d := descendants(proc.pid)) >= 2 else None,
            timeout=30,
            what="the probe process",
        )
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out
        assert "interrupted" in out and "shutting down" in out, out
        wait_for(lambda: not any(alive(p) for p in helpers), timeout=30, what="helpers gone")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        hang.close()
