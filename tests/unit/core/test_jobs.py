"""Jobs: one run at a time, metrics, audit records, failures that never kill the scheduler."""

from __future__ import annotations

import threading

import pytest
from prometheus_client import CollectorRegistry

from napops.core import audit
from napops.core.jobs import Job, JobBusy, JobError, Jobs, UnknownJob, cron_trigger


def sample(reg: CollectorRegistry, name: str, **labels: str) -> float | None:
    return reg.get_sample_value(name, labels)


def test_a_successful_run_sets_metrics_and_writes_an_audit_record(tmp_path):
    reg = CollectorRegistry()
    trail = audit.AuditTrail(tmp_path / "a.jsonl", "k" * 32, actor="test")
    jobs = Jobs(reg, trail, clock=iter([100.0, 107.5]).__next__)

    def work(run):
        run.progress(3, 3)
        return {"items": 3}

    jobs.add(Job("backup", work))
    run = jobs.run("backup", trigger="cli")
    assert run.state == "success" and run.summary == {"items": 3}
    assert sample(reg, "napops_job_last_success_timestamp_seconds", job="backup") == 107.5
    assert sample(reg, "napops_job_last_attempt_timestamp_seconds", job="backup") == 100.0
    assert sample(reg, "napops_job_runs_total", job="backup", result="success") == 1
    assert sample(reg, "napops_job_duration_seconds_sum", job="backup") == 7.5
    assert sample(reg, "napops_job_progress_done", job="backup") == 3
    assert sample(reg, "napops_job_running", job="backup") == 0
    verdict = audit.verify(tmp_path / "a.jsonl", "k" * 32)
    assert verdict.ok and verdict.records == 1
    record = (tmp_path / "a.jsonl").read_text()
    assert '"action":"job.backup"' in record and run.run_id in record


def test_a_raising_job_is_a_failed_run_and_the_next_run_works():
    reg = CollectorRegistry()
    jobs = Jobs(reg)
    calls = []

    def flaky(run):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("disk on fire")
        return None

    jobs.add(Job("flaky", flaky))
    first = jobs.run("flaky")
    assert first.state == "failed" and "disk on fire" in (first.error or "")
    assert jobs.run("flaky").state == "success"
    assert sample(reg, "napops_job_runs_total", job="flaky", result="failed") == 1
    assert sample(reg, "napops_job_runs_total", job="flaky", result="success") == 1


def test_a_summary_naming_failures_makes_the_run_failed():
    jobs = Jobs(CollectorRegistry())
    jobs.add(Job("partial", lambda run: {"failed": ["mariadb"], "ok": ["redis"]}))
    run = jobs.run("partial")
    assert run.state == "failed" and "mariadb" in (run.error or "")


def test_a_second_trigger_is_refused_with_the_running_run_id():
    reg = CollectorRegistry()
    jobs = Jobs(reg)
    release = threading.Event()
    jobs.add(Job("slow", lambda run: release.wait(10) and None))
    running = jobs.trigger("slow")
    with pytest.raises(JobBusy) as busy:
        jobs.trigger("slow")
    assert busy.value.run_id == running.run_id
    assert sample(reg, "napops_job_refused_total", job="slow") == 1
    release.set()
    assert running.wait(10) and running.state == "success"


def test_queue_mode_runs_the_second_trigger_after_the_first_and_refuses_a_third():
    jobs = Jobs(CollectorRegistry())
    release = threading.Event()
    order: list[str] = []

    def work(run):
        order.append(run.run_id)
        release.wait(10)

    jobs.add(Job("q", work, overlap="queue"))
    first = jobs.trigger("q")
    second = jobs.trigger("q")
    assert second.state == "pending"
    with pytest.raises(JobBusy):
        jobs.trigger("q")
    release.set()
    assert first.wait(10) and second.wait(10)
    assert order == [first.run_id, second.run_id]


def test_shutdown_interrupts_a_run_that_overstays_its_grace():
    reg = CollectorRegistry()
    jobs = Jobs(reg)
    hold = threading.Event()
    jobs.add(Job("stuck", lambda run: hold.wait(10) and None))
    run = jobs.trigger("stuck")
    left = jobs.stop(grace_seconds=0.2)
    assert [r.run_id for r in left] == [run.run_id] and run.state == "interrupted"
    assert sample(reg, "napops_job_runs_total", job="stuck", result="interrupted") == 1
    hold.set()


def test_a_cooperative_run_stops_within_the_grace_and_is_interrupted():
    jobs = Jobs(CollectorRegistry())
    started = threading.Event()

    def loop(run):
        started.set()
        while True:
            run.check_stop()
            threading.Event().wait(0.01)

    jobs.add(Job("loop", loop))
    run = jobs.trigger("loop")
    assert started.wait(5)
    assert jobs.stop(grace_seconds=5) == []
    assert run.state == "interrupted"


def test_unknown_jobs_and_bad_schedules_are_refused():
    jobs = Jobs(CollectorRegistry())
    with pytest.raises(UnknownJob, match="no job named 'x'"):
        jobs.run("x")
    with pytest.raises(JobError, match="5-field"):
        jobs.add(Job("bad", lambda run: None, schedule="* * *"))
    with pytest.raises(JobError, match="not a valid cron"):
        jobs.add(Job("bad", lambda run: None, schedule="0 25 * * *"))
    jobs.add(Job("a", lambda run: None))
    with pytest.raises(JobError, match="declared twice"):
        jobs.add(Job("a", lambda run: None))


def test_cron_weekdays_count_from_sunday_as_in_crontab():
    import datetime
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Asia/Bangkok")
    trig = cron_trigger("0 4 * * 0", "Asia/Bangkok")  # the estate's Sunday 04:00
    nxt = trig.get_next_fire_time(None, datetime.datetime(2026, 12, 2, tzinfo=tz))
    assert nxt is not None and nxt.strftime("%A %H:%M %z") == "Sunday 04:00 +0700"
    with pytest.raises(JobError):
        cron_trigger("0 4 * * 8", "UTC")


def test_status_lists_jobs_with_their_last_run():
    jobs = Jobs(CollectorRegistry(), timezone="UTC")
    jobs.add(Job("a", lambda run: None, schedule="0 2 * * *", description="nightly"))
    run = jobs.run("a")
    status = jobs.status()["a"]
    assert status["schedule"] == "0 2 * * *" and status["last"]["run_id"] == run.run_id
    assert status["running"] is None
