"""Faults on real components: a failing dump, a container stopped for its backup, a restic
killed mid-run (its stale lock), the repository lost mid-run, the CLI killed mid-run, and bad
input refused before anything runs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request

import pytest
from conftest import Estate, Napops, docker

from helpers import free_port, wait_for

pytestmark = pytest.mark.e2e


def _snapshots(napops: Napops, tag: str | None = None) -> list[dict]:
    args = ["snapshots", "--json"] + (["--tag", tag] if tag else [])
    return json.loads(napops.restic(*args))


def test_a_failing_dump_fails_its_item_alone(estate: Estate, napops: Napops) -> None:
    r = estate.redis()
    f = estate.files()
    napops.item("cache", "redis", r)
    napops.item(
        "broken",
        "command",
        f,
        argv=["sh", "-c", "echo partial output; echo dump broke >&2; exit 3"],
    )
    code, run = napops.run_json("backup", "run")
    assert code == 1
    s = run["summary"]
    assert s["failed"] == ["broken/command"] and s["succeeded"] == ["cache/redis"]
    assert (
        "exit status 3" in s["errors"]["broken/command"]
        and "dump broke" in s["errors"]["broken/command"]
    )
    assert s["pruned"] is False  # retention only after a run without failures
    # restic received the partial stream; it was forgotten, and no manifest marks it complete
    assert _snapshots(napops, "service=broken") == []
    assert len(_snapshots(napops, "service=cache,part=manifest")) == 1
    state = napops.state_doc()["items"]
    assert state["broken/command"]["ok"] is False and state["cache/redis"]["ok"] is True


def test_a_container_stopped_for_its_backup_is_started_again_when_it_fails(
    estate: Estate, napops: Napops
) -> None:
    f = estate.files()
    before = docker("inspect", "-f", "{{.State.StartedAt}}", f).strip()
    napops.item(
        "uploads",
        "files",
        f,
        paths=["/srv/uploads", "/no/such/path"],
        stop=True,
        stop_timeout_seconds=1,
    )
    code, run = napops.run_json("backup", "run")
    assert code == 1 and run["summary"]["failed"] == ["uploads/files"]
    assert "/no/such/path" in run["summary"]["errors"]["uploads/files"]
    assert docker("inspect", "-f", "{{.State.Running}}", f).strip() == "true"
    assert docker("inspect", "-f", "{{.State.StartedAt}}", f).strip() != before  # it was stopped


def test_a_stale_lock_of_a_killed_restic_is_removed_by_the_next_run(
    estate: Estate, napops: Napops
) -> None:
    r = estate.redis()
    napops.item("cache", "redis", r)
    killed = subprocess.Popen(
        [
            "restic",
            "-r",
            str(napops.repo),
            "--password-file",
            str(napops.password),
            "backup",
            "--stdin",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert killed.stdin is not None
    killed.stdin.write(b"x" * 100000)
    wait_for(lambda: napops.restic("list", "locks", "--no-lock").split(), 30, what="restic's lock")
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    stale = napops.restic("list", "locks", "--no-lock").split()
    assert len(stale) == 1
    code, run = napops.run_json("backup", "run")
    assert code == 0, run
    assert run["summary"]["stale_locks_removed"] == 1 and run["summary"]["pruned"] is True
    assert napops.restic("list", "locks", "--no-lock").split() == []
    assert napops.state_doc()["repository"]["stale_locks_removed"] == 1


def test_the_repository_lost_mid_run_fails_the_item_clearly_after_retries(
    estate: Estate, napops: Napops
) -> None:
    f = estate.files()
    napops.item(
        "slow",
        "command",
        f,
        argv=["sh", "-c", "head -c 3000000 /dev/urandom; sleep 4; head -c 1000 /dev/urandom"],
    )
    away = napops.repo.with_name("repo-away")
    proc = napops.popen("backup", "run", "--json")

    # lost while restic is storing the stream (its lock is there), before the dump ends
    wait_for(lambda: napops.restic("list", "locks", "--no-lock").split(), 120, what="restic's lock")
    napops.repo.rename(away)
    out, err = proc.communicate(timeout=300)
    run = json.loads(out)
    assert proc.returncode == 1, err
    error = run["summary"]["errors"]["slow/command"]
    assert "repository unreachable after 2 attempt(s)" in error, error
    # the link comes back (restic's local backend re-created directories it wrote into while
    # the repository was gone: a mount point would hide them): the next run succeeds
    shutil.rmtree(napops.repo, ignore_errors=True)
    away.rename(napops.repo)
    code, run = napops.run_json("backup", "run")
    assert code == 0, run


def test_the_cli_killed_mid_run_leaves_nothing_that_stops_the_next_run(
    estate: Estate, napops: Napops
) -> None:
    f = estate.files()
    napops.item(
        "slow", "command", f, argv=["sh", "-c", "head -c 1000000 /dev/urandom; sleep 5; echo end"]
    )
    proc = napops.popen("backup", "run")
    wait_for(
        lambda: napops.restic("list", "locks", "--no-lock").split(),
        60,
        what="the run's restic lock",
    )
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    napops.wait_lock_holders_gone()
    code, run = napops.run_json("backup", "run")
    assert code == 0, run
    manifests = _snapshots(napops, "service=slow,part=manifest")
    assert [m["tags"] for m in manifests if f"run={run['run_id']}" in m["tags"]]
    # the killed run never stored a manifest: a restore cannot pick its partial stream
    assert len(manifests) == 1


def test_bad_input_is_refused_before_anything_runs(estate: Estate, napops: Napops) -> None:
    m = estate.mariadb(
        labels={
            "napops.backup.strategy": "mariadb",
            "napops.backup.service": f"{estate.prefix}-db",
            "napops.backup.databases": "app,nosuchdb",
        }
    )
    napops.section["labels"] = True
    res = napops("backup", "run")
    assert res.returncode == 2, res.stdout + res.stderr
    assert f"database 'nosuchdb' does not exist in {m}" in res.stdout
    assert _snapshots(napops) == []

    docker("rm", "-f", "-v", m)
    estate.files(labels={"napops.backup.strategy": "tape"})
    res = napops("backup", "run")
    assert res.returncode == 2 and "unknown strategy 'tape'" in res.stdout, res.stdout + res.stderr
    assert _snapshots(napops) == []

    napops.section["labels"] = False
    napops.item("x", "command", estate.name("files"), argv=["true"])
    napops.password.write_text("not the password\n")
    res = napops("backup", "run")
    assert res.returncode == 2 and "wrong password" in res.stdout, res.stdout

    napops.section["repository"] = str(napops.tmp / "no-such-repo")
    res = napops("backup", "run")
    assert res.returncode == 2 and "no-such-repo does not exist" in res.stdout, res.stdout


def _post(url: str, token: str) -> dict:
    req = urllib.request.Request(url, method="POST", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def test_the_sidecar_killed_mid_run_recovers_and_runs_again(estate: Estate, napops: Napops) -> None:
    """POST /jobs/backup/run to the real sidecar, SIGKILL it while restic stores the stream,
    start it again: the next run (over HTTP) succeeds, and only its manifest exists."""
    f = estate.files()
    napops.item("slow", "command", f, argv=["sh", "-c", "head -c 1000000 /dev/urandom; sleep 5"])
    port, token = free_port(), "t" * 32
    napops.write()
    env = {**napops.env, "NAPOPS__LISTEN__PORT": str(port), "NAPOPS__API__TOKEN": token}

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from napops.backup.main import main; main()",
                "--config",
                str(napops.config),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(
            lambda: _get(f"http://127.0.0.1:{port}/healthz") is not None, 30, what="the sidecar"
        )
        return proc

    sidecar = start()
    try:
        _post(f"http://127.0.0.1:{port}/jobs/backup/run", token)
        wait_for(
            lambda: napops.restic("list", "locks", "--no-lock").split(), 60, what="the run's lock"
        )
        sidecar.send_signal(signal.SIGKILL)
        sidecar.wait()
        napops.wait_lock_holders_gone()
        sidecar = start()
        run = _post(f"http://127.0.0.1:{port}/jobs/backup/run", token)
        done = wait_for(
            lambda: (
                (r := _get(f"http://127.0.0.1:{port}/jobs/runs/{run['run_id']}"))["state"]
                not in ("pending", "running")
                and r
            ),
            180,
            what="the second run",
        )
        assert done["state"] == "success", done
        manifests = _snapshots(napops, "service=slow,part=manifest")
        assert [m["tags"] for m in manifests] == [
            [
                "service=slow",
                "kind=command",
                f"env={napops.environment}",
                f"run={run['run_id']}",
                "part=manifest",
            ]
        ]
        metrics = (
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        )
        assert 'napops_backup_last_result{kind="command",service="slow"} 1.0' in metrics
    finally:
        sidecar.kill()
        sidecar.wait()
