"""Deploy benchmark (make bench): 20 consecutive blue-green deploys under load, against plain
`docker compose up -d` of the new image in the same run.

The world of tests/e2e/deploy: a real registry holding the test app, the project's nginx edge
in front of an apps stack, the deploy sidecar as a process. A load generator keeps 50
connections through the edge the whole time (half keep-alive; retrying and non-retrying
keep-alive clients and new-connection clients counted apart). Each deploy is a signed Gitea
release webhook naming the other version (images already in the registry); a poller through
the edge times webhook -> first response of the new version -> only the new version. Then
rollbacks (a version that passes the health gate and fails the verification window), then
the same number of `docker compose up -d` with the other image under a fresh load run.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e" / "deploy"))

from deploy_estate import (  # noqa: E402
    Estate,
    build_and_push,
    drop_local,
    estate,
    registry,
    section_for,
    start_load,
)
from sidecar import HOOK_SECRET, Sidecar  # noqa: E402

from helpers import (  # noqa: E402
    FIXTURES,
    machine_line,
    record_benchmark,
    require_docker,
    require_tool,
    wait_for,
)
from napops.core.webhook import signature  # noqa: E402

pytestmark = pytest.mark.bench

DEPLOYS = int(os.environ.get("DEPLOY_BENCH_DEPLOYS", "20"))
ROLLBACKS = int(os.environ.get("DEPLOY_BENCH_ROLLBACKS", "3"))


class Poller:
    """GETs the version through the edge every 50 ms and keeps (time, version)."""

    def __init__(self, est: Estate) -> None:
        self.est, self.seen = est, []  # type: ignore[var-annotated]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                self.seen.append((time.monotonic(), self.est.get()))
            except Exception:  # noqa: BLE001 - a failed poll is counted by the load generator
                self.seen.append((time.monotonic(), "error"))
            time.sleep(0.05)

    def timing(self, since: float, new: str) -> tuple[float, float]:
        """(first new-version answer, start of only-new answers) after ``since``, seconds."""
        wait_for(
            lambda: any(t >= since and v == new for t, v in list(self.seen)),
            timeout=30,
            what=f"the poller to see {new}",
        )
        after = [(t, v) for t, v in list(self.seen) if t >= since]
        first = next(t for t, v in after if v == new)
        last_other = max((t for t, v in after if v != new), default=since)
        return first - since, max(first, last_other) - since

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)


def release(car: Sidecar, tag: str) -> str:
    payload = json.loads((FIXTURES / "gitea" / "release.json").read_text())
    payload["release"]["tag_name"] = tag
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Gitea-Event": "release",
        "X-Gitea-Event-Type": "release",
        "X-Gitea-Delivery": str(uuid.uuid4()),
        "X-Gitea-Signature": signature(body, HOOK_SECRET),
    }
    resp = requests.post(car.url + "/hooks/gitea", data=body, headers=headers, timeout=5)
    assert resp.status_code == 202 and resp.json()["status"] == "queued", resp.text
    return str(resp.json()["deployment"])


def stats(values: list[float]) -> str:
    if not values:
        return "-"
    return (
        f"median {statistics.median(values):.2f} s, max {max(values):.2f} s "
        f"(min {min(values):.2f} s, n={len(values)})"
    )


def failures(result: dict[str, Any]) -> str:
    parts = []
    for kind in ("keepalive_retry", "keepalive_noretry", "fresh"):
        t = result["totals"].get(kind, {})
        parts.append(f"{kind} {t.get('failed', 0)} of {t.get('requests', 0)}")
    return ", ".join(parts)


def test_deploy_benchmark(tmp_path: Path) -> None:
    require_docker()
    require_tool("docker-registry")
    with registry(tmp_path / "registry") as addr:
        images = build_and_push(addr)
        drop_local(*images.values())
        try:
            bg, rb, base = run_all(addr, images, tmp_path)
        finally:
            drop_local(*images.values())
    record(bg, rb, base)
    assert bg["failed"] == 0 and rb["failed"] == 0, (bg, rb)


def run_all(
    addr: str, images: dict[str, str], tmp_path: Path
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    with estate(tmp_path / "estate", images["v1"]) as est:
        section = section_for(est, verify_seconds=5)
        section["rules"] = [
            {
                "repository": "gitea/webhooks",
                "events": ["release"],
                "tag": "v*",
                "service": "backend",
                "environment": "e2e",
                "image": addr + "/deploy-e2e/app:{tag}",
            }
        ]
        car = Sidecar(tmp_path / "sidecar", section).start()
        poller = Poller(est)
        try:
            bg = blue_green(est, car, poller, tmp_path)
            rb = rollbacks(est, car, tmp_path)
            base = compose_baseline(est, images, poller, tmp_path)
        finally:
            poller.close()
            car.stop()
    return bg, rb, base


def blue_green(est: Estate, car: Sidecar, poller: Poller, tmp: Path) -> dict[str, Any]:
    load = start_load(est, tmp)
    to_first, to_alone, switch, total, current = [], [], [], [], "v1"
    for _ in range(DEPLOYS):
        new = "v2" if current == "v1" else "v1"
        t0 = time.monotonic()
        dep_id = release(car, new)
        doc = car.wait_done(dep_id, timeout=300)
        assert doc["state"] == "succeeded", doc
        wait_for(lambda new=new: est.get() == new, timeout=10, what="the new version")
        first, alone = poller.timing(t0, new)
        to_first.append(first)
        to_alone.append(alone)
        switch.append(doc["figures"]["switch_seconds"])
        total.append(doc["finished"] - doc["created"])
        current = new
    result = load.stop()
    failed = sum(t.get("failed", 0) for t in result["totals"].values())
    return {
        "result": result,
        "failed": failed,
        "to_first": to_first,
        "to_alone": to_alone,
        "switch": switch,
        "total": total,
    }


def rollbacks(est: Estate, car: Sidecar, tmp: Path) -> dict[str, Any]:
    load = start_load(est, tmp)
    seconds, ready = [], []
    for _ in range(ROLLBACKS):
        doc = car.wait_done(release(car, "v4"), timeout=300)
        assert doc["state"] == "rolled_back", doc
        seconds.append(doc["figures"]["rollback_seconds"])
        ready.append(doc["figures"]["rollback_blue_ready_seconds"])
    result = load.stop()
    failed = sum(t.get("failed", 0) for t in result["totals"].values())
    return {"result": result, "failed": failed, "seconds": seconds, "ready": ready}


def compose_baseline(
    est: Estate, images: dict[str, str], poller: Poller, tmp: Path
) -> dict[str, Any]:
    load = start_load(est, tmp)
    to_first, to_alone, took = [], [], []
    current = est.get()
    for _ in range(DEPLOYS):
        new = "v2" if current == "v1" else "v1"
        t0 = time.monotonic()
        est.compose("apps", "up", "-d", "backend", env={"APP_IMAGE": images[new]})
        took.append(time.monotonic() - t0)
        wait_for(lambda new=new: est.get() == new, timeout=60, what="compose's new version")
        first, alone = poller.timing(t0, new)
        to_first.append(first)
        to_alone.append(alone)
        current = new
        time.sleep(2)
    result = load.stop()
    failed = sum(t.get("failed", 0) for t in result["totals"].values())
    return {
        "result": result,
        "failed": failed,
        "to_first": to_first,
        "to_alone": to_alone,
        "took": took,
    }


def record(bg: dict[str, Any], rb: dict[str, Any], base: dict[str, Any]) -> None:
    md = f"""## deploy (blue-green vs `docker compose up -d`)

Machine: {machine_line()}. Command: `.venv/bin/python -m pytest -m bench
tests/bench/test_deploy_bench.py` (also part of `make bench`). The world of tests/e2e/deploy:
Debian docker-registry on 127.0.0.1, the test app (Python, healthcheck every 1 s), the
project's nginx edge (Debian nginx 1.22 stand-in, TLS), 50 connections through the edge the
whole time (13 keep-alive that retry once, 12 keep-alive that never retry, 25 new
connection per request). Edge resolver `valid=2s`; verification window 5 s.

| | blue-green (deploy sidecar, webhook) | `docker compose up -d` |
|---|---|---|
| deploys | {len(bg["total"])} consecutive, v1 <-> v2 | {len(base["took"])} consecutive, v1 <-> v2 |
| failed requests | {failures(bg["result"])} | {failures(base["result"])} |
| to the first response of the new version (from the webhook / the command) \
| {stats(bg["to_first"])} | {stats(base["to_first"])} |
| to only the new version answering | {stats(bg["to_alone"])} | {stats(base["to_alone"])} |
| switch (aliases moved) | {stats(bg["switch"])} | - |
| whole deploy (queued to finished, with verification; compose: the command) \
| {stats(bg["total"])} | {stats(base["took"])} |

Rollbacks ({len(rb["seconds"])}, a version that fails its health check 6 s after start, seen
in the verification window): {stats(rb["seconds"])} from the failure seen to the old version
serving alone (goal: at most 10 s); of which the old container ready again
{stats(rb["ready"])}. Failed requests during them: {failures(rb["result"])}.
"""
    record_benchmark("deploy", md)
