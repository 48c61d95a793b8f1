"""Benchmark of the local stack: `make up` time, napops image size, idle sidecar memory.

Run with `make bench PYTEST_ARGS='-k stack'`; writes the "stack" section of docs/benchmarks.md.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time

import pytest
from e2e.stackrun import SIDECARS, Stack, targets_up

from helpers import (
    ROOT,
    machine_line,
    record_benchmark,
    require_docker,
    require_tool,
    wait_for,
)

pytestmark = [pytest.mark.bench, pytest.mark.e2e]

TRIALS = 3
MEMORY_SAMPLES = 5
PY_BASE = "napops-local/python:3.11-bookworm"
PROM = "napops-local/prometheus:2.42-debian12"


def _run(*cmd: str) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _image_mb(tag: str) -> float:
    return int(_run("docker", "image", "inspect", "-f", "{{.Size}}", tag)) / 1e6


def _mem_mib(stack: Stack, service: str) -> float:
    """Resident memory of the service's container as `docker stats` reports it, in MiB."""
    cid = stack.container(service)["Id"]
    usage = _run("docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", cid)
    amount = usage.split("/")[0].strip()
    units = {"KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0, "B": 1 / 1048576}
    for unit, factor in units.items():
        if amount.endswith(unit):
            return float(amount[: -len(unit)]) * factor
    raise AssertionError(f"unreadable memory usage {usage!r}")


def test_stack_numbers() -> None:
    require_docker()
    require_tool("make")
    _run(str(ROOT / "compose" / "bin" / "build-images"))  # the images exist before timing
    noop_images = time.monotonic()
    _run(str(ROOT / "compose" / "bin" / "build-images"))
    noop_images = time.monotonic() - noop_images

    stack = Stack(f"napops-bench-{os.getpid()}")
    up_times, ready_times = [], []
    try:
        for _ in range(TRIALS):
            assert stack.make("down-purge").returncode == 0
            t0 = time.monotonic()
            up_times.append(stack.up())
            wait_for(
                lambda: all(targets_up(stack).values()),
                timeout=120,
                interval=0.5,
                what="every target up",
            )
            ready_times.append(time.monotonic() - t0)
        # idle: the stack has nothing to do; sample a few times (each sample takes ~2 s)
        memory = {
            s: statistics.median(_mem_mib(stack, s) for _ in range(MEMORY_SAMPLES))
            for s in SIDECARS
        }
        t0 = time.monotonic()
        assert stack.make("down").returncode == 0
        down_time = time.monotonic() - t0
    finally:
        stack.make("down-purge")

    image = next(
        line.split("=", 1)[1]
        for line in (ROOT / "compose" / ".images.env").read_text().splitlines()
        if line.startswith("NAPOPS_IMAGE=")
    )
    med = statistics.median
    figures = [
        (
            f"`make up` with images built, from no containers (median of {TRIALS})",
            f"{med(up_times):.1f} s (each: {', '.join(f'{t:.1f}' for t in up_times)})",
        ),
        ("`make up` start to every target `up == 1` in Prometheus", f"{med(ready_times):.1f} s"),
        ("`make images` when nothing changed", f"{noop_images:.2f} s"),
        ("`make down`", f"{down_time:.1f} s"),
        (f"napops image `{image}`", f"{_image_mb(image):.0f} MB"),
        ("its Python base (Debian python3 on the mmdebstrap base)", f"{_image_mb(PY_BASE):.0f} MB"),
        ("Prometheus stand-in (Debian package)", f"{_image_mb(PROM):.0f} MB"),
    ]
    table = "\n".join(f"| {what} | {figure} |" for what, figure in figures)
    rows = "\n".join(f"| {s} | {memory[s]:.1f} MiB |" for s in SIDECARS)
    engine = _run("docker", "version", "-f", "{{.Server.Version}}").strip()
    record_benchmark(
        "stack",
        f"""
## Local stack (`make up` / `make down`)

{machine_line()}; Docker Engine {engine}.
Rerun: `make bench PYTEST_ARGS='-k stack'` (tests/bench/test_stack_bench.py).
Configuration used: the repository's prometheus/ and alertmanager/.

| what | figure |
|---|---|
{table}

Idle memory per sidecar (`docker stats`, median of {MEMORY_SAMPLES} samples, right after start):

| sidecar | memory |
|---|---|
{rows}

`make up` covers: validating every compose file, the incremental image check, the secrets
check, creating networks and volumes, starting 12 containers and waiting for every
healthcheck to pass (`up --wait`). Grafana, Loki, Alloy and cAdvisor are not part of it (their
images cannot be built here).
""",
    )
