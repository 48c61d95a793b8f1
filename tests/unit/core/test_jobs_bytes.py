"""Bytes progress of a job run: RunContext.progress_bytes in the run, the metrics and the CLI."""

from __future__ import annotations

import io

from prometheus_client import CollectorRegistry

from napops.core.jobcli import human_bytes, progress_printer
from napops.core.jobs import Job, Jobs


def sample(reg: CollectorRegistry, name: str, **labels: str) -> float | None:
    return reg.get_sample_value(name, labels)


def test_bytes_progress_is_in_the_run_the_metrics_and_the_printed_lines():
    reg = CollectorRegistry()
    jobs = Jobs(reg)
    out = io.StringIO()

    def work(run):
        run.progress(0, 2)
        run.progress_bytes(1536)
        run.progress(1, 2)
        run.progress_bytes(3 * 2**20, 4 * 2**20)
        run.progress(2, 2)
        return {}

    jobs.add(Job("backup", work))
    run = jobs.run("backup", trigger="cli", on_progress=progress_printer(out))
    assert run.state == "success"
    assert (run.bytes_done, run.bytes_total) == (3 * 2**20, 4 * 2**20)
    assert sample(reg, "napops_job_progress_bytes", job="backup") == 3 * 2**20
    assert sample(reg, "napops_job_progress_expected_bytes", job="backup") == 4 * 2**20
    lines = out.getvalue().splitlines()
    assert lines[0] == "  backup: 0 of 2 items"
    assert lines[1] == "  backup: 0 of 2 items, 1.5 KiB"
    assert lines[-1] == "  backup: 2 of 2 items, 3.0 MiB of 4.0 MiB"


def test_a_new_run_starts_its_bytes_at_zero():
    reg = CollectorRegistry()
    jobs = Jobs(reg)
    sizes = iter([500, None])

    def work(run):
        size = next(sizes)
        if size is not None:
            run.progress_bytes(size)
        return {}

    jobs.add(Job("backup", work))
    jobs.run("backup")
    assert sample(reg, "napops_job_progress_bytes", job="backup") == 500
    second = jobs.run("backup")
    assert second.bytes_done == 0
    assert sample(reg, "napops_job_progress_bytes", job="backup") == 0


def test_human_bytes():
    assert human_bytes(0) == "0 B"
    assert human_bytes(1023) == "1023 B"
    assert human_bytes(1024) == "1.0 KiB"
    assert human_bytes(5 * 2**30 + 2**29) == "5.5 GiB"
    assert human_bytes(3 * 2**50) == "3072.0 TiB"
