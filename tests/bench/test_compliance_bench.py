"""Benchmark of the compliance auditor: a full runtime audit of 100 running containers (time,
goal under 2 s, and Docker API calls made) and the static audit of every stack in every
environment.

Run with `make bench PYTEST_ARGS='-k compliance'`; writes the "compliance" section of
docs/benchmarks.md.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections import Counter
from typing import Any

import pytest

from helpers import ROOT, machine_line, record_benchmark, require_docker
from napops.compliance import policy as policymod
from napops.compliance import runtime, static
from napops.compliance.audit import audit
from napops.core.dockerhost import Engine

pytestmark = [pytest.mark.bench, pytest.mark.e2e]
CONTAINERS = 100
TRIALS = 5


class CountingApi:
    """The engine's low-level API, counting every call that reaches the engine."""

    def __init__(self, api: Any):
        self._api, self.calls = api, Counter()

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._api, name)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return target(*args, **kwargs)

        return call


def test_compliance_numbers() -> None:
    require_docker()
    engine = Engine()
    base = engine.client.images.get("napops-local/debian:bookworm")
    base.tag("napops-test-compliance", "1.0")
    tag = f"bench-{uuid.uuid4().hex[:6]}"
    made = []
    try:
        for i in range(CONTAINERS):
            made.append(
                engine.client.containers.run(
                    "napops-test-compliance:1.0",
                    ["sleep", "600"],
                    detach=True,
                    name=f"napops-test-{tag}-{i}",
                    labels={"napops.test": tag},
                    user="65532:65532",
                    read_only=True,
                    cap_drop=["ALL"],
                    mem_limit="16m",
                    stop_signal="SIGKILL",
                )
            )
        policy = policymod.load(ROOT / "compose" / "policy.yml")
        counting = CountingApi(engine.client.api)
        engine.client.api = counting  # type: ignore[assignment]
        times = []
        for _ in range(TRIALS):
            counting.calls.clear()
            started = time.perf_counter()
            workloads = runtime.workloads(engine, {"napops.test": tag})
            findings = audit(workloads, policy)
            times.append(time.perf_counter() - started)
        assert len(workloads) == CONTAINERS and findings
        calls = sum(counting.calls.values())
        engine.client.api = counting._api  # type: ignore[assignment]
    finally:
        for c in made:
            c.remove(force=True)
    started = time.perf_counter()
    rendered = static.workloads(static.compose_dir(str(ROOT / "compose")))
    render_s = time.perf_counter() - started
    started = time.perf_counter()
    static_findings = [f for ws in rendered.values() for f in audit(ws, policy)]
    check_s = time.perf_counter() - started
    services = sum(len(ws) for ws in rendered.values())
    median, lo, hi = statistics.median(times), min(times), max(times)
    by_call = ", ".join(f"{k} {v}" for k, v in sorted(counting.calls.items()))
    rows = [
        (
            f"runtime audit of {CONTAINERS} running containers ({len(findings)} findings), "
            f"median of {TRIALS}",
            f"{median:.2f} s (min {lo:.2f}, max {hi:.2f})",
            "under 2 s",
        ),
        ("Docker API calls of one runtime audit", f"{calls} ({by_call})", ""),
        (
            f"static audit: render every stack as each host runs it ({services} services, "
            f"{len(rendered)} environments)",
            f"{render_s:.1f} s",
            "",
        ),
        (
            f"static audit: the policy on them ({len(static_findings)} findings)",
            f"{check_s * 1000:.0f} ms",
            "",
        ),
    ]
    table = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
    record_benchmark(
        "compliance",
        f"## compliance\n\nMachine: {machine_line()}. Command: "
        f"`make bench PYTEST_ARGS='-k compliance'`. The machine was shared with other work "
        f"during the run, so read the spread, not only the median.\n\n"
        f"| measure | value | goal |\n|---|---|---|\n{table}\n",
    )
