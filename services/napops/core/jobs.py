"""Jobs: named functions run on a cron schedule, from the CLI, or over HTTP, one run at a time.

A sidecar declares its work as :class:`Job` objects and adds them to its :class:`Jobs`. Every
run gets an id that appears in every log line of the run (``run_id``), metrics
(``napops_job_*``, labelled by job), an audit record with its result, and progress reports
(items done of total) in logs, metrics and :meth:`Jobs.status`. A run that raises is a failed
run; the scheduler and the other jobs go on. On shutdown an in-flight run is asked to stop
(:meth:`RunContext.should_stop`), given a bounded grace time, then recorded as interrupted.

Overlap: a second trigger while a run is going is refused with :class:`JobBusy` (naming the
running run's id), or, with ``overlap="queue"``, waits for that run to finish (at most one
waiting run per job; a further trigger is refused).
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .audit import AuditTrail
from .errors import NapopsError

log = logging.getLogger(__name__)
# APScheduler logs every start, stop and run at INFO ("Running job ...", "Scheduler has been
# shut down"): our own job_* events say it with run ids; keep only its warnings and errors.
logging.getLogger("apscheduler").setLevel(logging.WARNING)

Overlap = Literal["refuse", "queue"]
RESULTS = ("success", "failed", "interrupted")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DURATION_BUCKETS = (0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400)


class JobError(NapopsError):
    """A job cannot be run as asked (unknown name, already running)."""


class UnknownJob(JobError):
    pass


class JobBusy(JobError):
    """The job is running (and, for ``overlap="queue"``, a run already waits)."""

    def __init__(self, job: str, run_id: str):
        super().__init__(f"job {job!r} is already running (run {run_id})")
        self.job, self.run_id = job, run_id


class Interrupted(NapopsError):
    """Raised by :meth:`RunContext.check_stop` when the sidecar is shutting down."""


@dataclass(frozen=True)
class Job:
    """A named unit of work. ``func(run)`` does the work; its return value (a JSON-able
    mapping, or None) becomes the run's ``summary``. ``schedule`` is a 5-field cron
    expression in the sidecar's time zone, or None for on-demand only."""

    name: str
    func: Callable[[RunContext], dict[str, Any] | None]
    schedule: str | None = None
    overlap: Overlap = "refuse"
    description: str = ""
    audited: bool = True  # False: a read-only job run every minute stays out of the trail


@dataclass
class Run:
    """One run of a job, as reported by status() and the HTTP API."""

    run_id: str
    job: str
    trigger: str
    state: str = "pending"  # pending, running, success, failed, interrupted
    started: float | None = None
    finished: float | None = None
    done: int = 0
    total: int | None = None
    unit: str = "items"
    bytes_done: int = 0  # data moved so far, when the job reports it (progress_bytes)
    bytes_total: int | None = None  # None: not reported or not known in advance
    error: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    finished_event: threading.Event = field(default_factory=threading.Event, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k != "finished_event"}

    def wait(self, timeout: float | None = None) -> bool:
        return self.finished_event.wait(timeout)


class RunLogger(logging.LoggerAdapter[logging.Logger]):
    """Adds the run's ids to every line, keeping the call's own ``extra`` fields."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        kwargs["extra"] = {**(self.extra or {}), **kwargs.get("extra", {})}
        return msg, kwargs


class RunContext:
    """What a job function gets: its run, a logger that tags every line with the run id,
    progress reporting and the shutdown flag."""

    def __init__(self, run: Run, jobs: Jobs, on_progress: Callable[[Run], None] | None = None):
        self.run = run
        self._jobs = jobs
        self._on_progress = on_progress
        self.log = RunLogger(
            logging.getLogger(f"napops.job.{run.job}"), {"run_id": run.run_id, "job": run.job}
        )

    @property
    def run_id(self) -> str:
        return self.run.run_id

    def progress(self, done: int, total: int | None = None, unit: str = "items") -> None:
        """Report ``done`` of ``total`` (logged, exported, shown by the CLI)."""
        self.run.done, self.run.unit = done, unit
        if total is not None:
            self.run.total = total
        self._jobs.metrics.progress_done.labels(self.run.job).set(done)
        self._jobs.metrics.progress_total.labels(self.run.job).set(self.run.total or 0)
        self.log.info(
            "progress %d of %s %s",
            done,
            "?" if self.run.total is None else self.run.total,
            unit,
            extra={"event": "job_progress", "done": done, "total": self.run.total},
        )
        if self._on_progress is not None:
            self._on_progress(self.run)

    def progress_bytes(self, done: int, total: int | None = None) -> None:
        """Report ``done`` bytes of ``total`` (None: not known in advance), beside the item
        count of :meth:`progress` (logged, exported, shown by the CLI). The caller limits how
        often it reports (a stream reports many times a second)."""
        self.run.bytes_done = done
        if total is not None:
            self.run.bytes_total = total
        self._jobs.metrics.progress_bytes.labels(self.run.job).set(done)
        self._jobs.metrics.progress_expected_bytes.labels(self.run.job).set(
            self.run.bytes_total or 0
        )
        self.log.info(
            "progress %d of %s bytes",
            done,
            "?" if self.run.bytes_total is None else self.run.bytes_total,
            extra={"event": "job_progress_bytes", "bytes_done": done, "bytes_total": total},
        )
        if self._on_progress is not None:
            self._on_progress(self.run)

    def should_stop(self) -> bool:
        """True once the sidecar is shutting down: finish or abandon the current step."""
        return self._jobs.stopping.is_set()

    def check_stop(self) -> None:
        """Raise :class:`Interrupted` when the sidecar is shutting down."""
        if self.should_stop():
            raise Interrupted(f"run {self.run_id} interrupted by shutdown")


class JobMetrics:
    def __init__(self, registry: CollectorRegistry):
        r = registry
        self.last_success = Gauge(
            "napops_job_last_success_timestamp_seconds",
            "When the job last finished successfully (0: never).",
            ["job"],
            registry=r,
        )
        self.last_attempt = Gauge(
            "napops_job_last_attempt_timestamp_seconds",
            "When the job last started (0: never).",
            ["job"],
            registry=r,
        )
        self.duration = Histogram(
            "napops_job_duration_seconds",
            "How long finished runs took.",
            ["job"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.runs = Counter(
            "napops_job_runs", "Finished runs, by result.", ["job", "result"], registry=r
        )
        self.refused = Counter(
            "napops_job_refused", "Triggers refused because a run was going.", ["job"], registry=r
        )
        self.running = Gauge("napops_job_running", "1 while a run is going.", ["job"], registry=r)
        self.progress_done = Gauge(
            "napops_job_progress_done",
            "Items done by the current or last run.",
            ["job"],
            registry=r,
        )
        self.progress_total = Gauge(
            "napops_job_progress_total",
            "Items the current or last run has in all (0: unknown).",
            ["job"],
            registry=r,
        )
        self.progress_bytes = Gauge(
            "napops_job_progress_bytes",
            "Bytes the current or last run has moved (jobs that report bytes).",
            ["job"],
            registry=r,
        )
        self.progress_expected_bytes = Gauge(
            "napops_job_progress_expected_bytes",
            "Bytes the current or last run expects to move in all (0: unknown).",
            ["job"],
            registry=r,
        )

    def declare(self, job: str) -> None:
        """Create every series of ``job`` so it shows 0 instead of being missing."""
        for metric in (
            self.last_success,
            self.last_attempt,
            self.duration,
            self.refused,
            self.running,
            self.progress_done,
            self.progress_total,
            self.progress_bytes,
            self.progress_expected_bytes,
        ):
            metric.labels(job)
        for result in RESULTS:
            self.runs.labels(job, result)


class _Slot:
    """Per-job state: the running run, and the one that waits (queue mode)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: Run | None = None
        self.waiting: Run | None = None
        self.turn = threading.Lock()  # held for the duration of a run


class Jobs:
    """The jobs of one sidecar."""

    def __init__(
        self,
        registry: CollectorRegistry,
        audit: AuditTrail | None = None,
        timezone: str = "Asia/Bangkok",
        clock: Callable[[], float] = time.time,
        history: int = 50,
    ):
        self.metrics = JobMetrics(registry)
        self.audit, self.timezone, self.clock = audit, timezone, clock
        self.jobs: dict[str, Job] = {}
        self._slots: dict[str, _Slot] = {}
        self._runs: dict[str, Run] = {}
        self._order: list[str] = []
        self._history = history
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self._scheduler: BackgroundScheduler | None = None

    # -- declaring ---------------------------------------------------------------------------
    def add(self, job: Job) -> Job:
        """Declare ``job``; raises JobError on a duplicate name or a bad cron expression."""
        if job.name in self.jobs:
            raise JobError(f"job {job.name!r} is declared twice")
        if job.schedule is not None:
            cron_trigger(job.schedule, self.timezone)  # raises JobError when invalid
        self.jobs[job.name] = job
        self._slots[job.name] = _Slot()
        self.metrics.declare(job.name)
        return job

    # -- running -----------------------------------------------------------------------------
    def trigger(
        self, name: str, trigger: str = "http", on_progress: Callable[[Run], None] | None = None
    ) -> Run:
        """Start a run in the background and return it at once (state pending or running).

        Raises UnknownJob, or JobBusy when the job is going and may not queue.
        """
        run = self._admit(name, trigger)
        thread = threading.Thread(
            target=self._execute, args=(run, on_progress), name=f"job-{name}", daemon=True
        )
        with self._lock:
            self._threads.add(thread)
        thread.start()
        return run

    def run(
        self, name: str, trigger: str = "cli", on_progress: Callable[[Run], None] | None = None
    ) -> Run:
        """Run ``name`` in this thread and return the finished run (never raises for the
        job's own failure: see ``run.state`` and ``run.error``). Raises UnknownJob, JobBusy."""
        run = self._admit(name, trigger)
        self._execute(run, on_progress)
        return run

    def _admit(self, name: str, trigger: str) -> Run:
        job = self.jobs.get(name)
        if job is None:
            known = ", ".join(sorted(self.jobs)) or "none"
            raise UnknownJob(f"no job named {name!r} (jobs: {known})")
        slot = self._slots[name]
        with slot.lock:
            busy = slot.running
            if busy is not None and (job.overlap == "refuse" or slot.waiting is not None):
                self.metrics.refused.labels(name).inc()
                log.warning(
                    "trigger of %s refused: run %s is going",
                    name,
                    busy.run_id,
                    extra={"event": "job_refused", "job": name, "running_run_id": busy.run_id},
                )
                raise JobBusy(name, (slot.waiting or busy).run_id)
            run = Run(new_run_id(), name, trigger)
            if busy is None:
                slot.running = run
            else:
                slot.waiting = run
        self._remember(run)
        return run

    def _remember(self, run: Run) -> None:
        with self._lock:
            self._runs[run.run_id] = run
            self._order.append(run.run_id)
            while len(self._order) > self._history:
                old = self._runs.get(self._order[0])
                if old is not None and old.state in ("pending", "running"):
                    break
                self._runs.pop(self._order.pop(0), None)

    def _execute(self, run: Run, on_progress: Callable[[Run], None] | None) -> None:
        job, slot = self.jobs[run.job], self._slots[run.job]
        try:
            with slot.turn:
                with slot.lock:
                    slot.running, slot.waiting = run, None
                if self.stopping.is_set():
                    self._finish(run, "interrupted", "not started: shutting down")
                    return
                self._work(job, run, on_progress)
        finally:
            with slot.lock:
                if slot.running is run:
                    slot.running = None
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _work(self, job: Job, run: Run, on_progress: Callable[[Run], None] | None) -> None:
        ctx = RunContext(run, self, on_progress)
        run.state, run.started = "running", self.clock()
        m = self.metrics
        m.running.labels(job.name).set(1)
        m.last_attempt.labels(job.name).set(run.started)
        m.progress_done.labels(job.name).set(0)
        m.progress_total.labels(job.name).set(0)
        m.progress_bytes.labels(job.name).set(0)
        m.progress_expected_bytes.labels(job.name).set(0)
        ctx.log.info(
            "run %s of %s started (%s)",
            run.run_id,
            job.name,
            run.trigger,
            extra={"event": "job_started", "trigger": run.trigger},
        )
        try:
            summary = job.func(ctx)
        except Interrupted as exc:
            self._finish(run, "interrupted", str(exc), ctx)
        except Exception as exc:  # noqa: BLE001 - a failing job is a failed run, never a crash
            if self.stopping.is_set():
                self._finish(run, "interrupted", f"{type(exc).__name__}: {exc}", ctx)
            else:
                ctx.log.error("run failed", exc_info=True, extra={"event": "job_exception"})
                self._finish(run, "failed", f"{type(exc).__name__}: {exc}", ctx)
        else:
            run.summary = dict(summary or {})
            failed = run.summary.get("failed")
            if failed:
                self._finish(run, "failed", f"failed: {failed}", ctx)
            else:
                self._finish(run, "success", None, ctx)

    def _finish(
        self, run: Run, result: str, error: str | None, ctx: RunContext | None = None
    ) -> None:
        run.finished = self.clock()
        run.state, run.error = result, error
        m = self.metrics
        m.running.labels(run.job).set(0)
        m.runs.labels(run.job, result).inc()
        if run.started is not None:
            m.duration.labels(run.job).observe(max(0.0, run.finished - run.started))
        if result == "success":
            m.last_success.labels(run.job).set(run.finished)
        level = logging.INFO if result == "success" else logging.ERROR
        logger = ctx.log if ctx is not None else log
        logger.log(
            level,
            "run %s of %s finished: %s%s",
            run.run_id,
            run.job,
            result,
            f" ({error})" if error else "",
            extra={"event": "job_finished", "result": result, "run_id": run.run_id},
        )
        self._audit(run)
        run.finished_event.set()

    def _audit(self, run: Run) -> None:
        if self.audit is None or not self.jobs[run.job].audited:
            return
        data = {
            "run_id": run.run_id,
            "trigger": run.trigger,
            "result": run.state,
            "started": run.started,
            "finished": run.finished,
            "error": run.error,
            "summary": run.summary,
        }
        try:
            self.audit.append(f"job.{run.job}", data)
        except NapopsError as exc:
            log.warning("cannot write audit record: %s", exc, extra={"event": "audit_failed"})

    # -- reading -----------------------------------------------------------------------------
    def get(self, run_id: str) -> Run | None:
        with self._lock:
            return self._runs.get(run_id)

    def status(self) -> dict[str, Any]:
        """Every job with its schedule, its running run and its last finished run."""
        out: dict[str, Any] = {}
        with self._lock:
            runs = [self._runs[r] for r in self._order if r in self._runs]
        for name, job in self.jobs.items():
            slot = self._slots[name]
            finished = [r for r in runs if r.job == name and r.finished is not None]
            out[name] = {
                "schedule": job.schedule,
                "timezone": self.timezone,
                "overlap": job.overlap,
                "description": job.description,
                "next_run": self._next_run(name),
                "running": slot.running.as_dict() if slot.running else None,
                "waiting": slot.waiting.as_dict() if slot.waiting else None,
                "last": finished[-1].as_dict() if finished else None,
            }
        return out

    def _next_run(self, name: str) -> str | None:
        if self._scheduler is None:
            return None
        sched_job = self._scheduler.get_job(name)
        nxt = getattr(sched_job, "next_run_time", None) if sched_job else None
        return nxt.isoformat() if nxt else None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the cron schedule of every job that has one."""
        scheduled = [j for j in self.jobs.values() if j.schedule]
        if not scheduled or self._scheduler is not None:
            return
        sched = BackgroundScheduler(timezone=self.timezone)
        for job in scheduled:
            assert job.schedule is not None
            sched.add_job(
                self._scheduled,
                cron_trigger(job.schedule, self.timezone),
                args=[job.name],
                id=job.name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=300,
            )
        sched.start()
        self._scheduler = sched

    def _scheduled(self, name: str) -> None:
        try:
            self.run(name, trigger="schedule")
        except JobBusy:
            pass  # counted and logged by _admit

    def stop(self, grace_seconds: float = 30) -> list[Run]:
        """Stop scheduling, ask running runs to stop and wait up to ``grace_seconds`` for
        them; returns the runs that did not finish in time (recorded as interrupted)."""
        self.stopping.set()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        deadline = time.monotonic() + grace_seconds
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        left: list[Run] = []
        for slot in self._slots.values():
            run = slot.running
            if run is not None and run.state == "running":
                self._finish(run, "interrupted", f"still running after {grace_seconds:g}s grace")
                left.append(run)
        return left


def new_run_id() -> str:
    """A short unique id: sortable time prefix plus randomness."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:8]


def cron_trigger(expression: str, timezone: str) -> CronTrigger:
    """A CronTrigger for a 5-field cron expression; raises JobError naming the problem."""
    if len(expression.split()) != 5:
        raise JobError(
            f"{expression!r} is not a 5-field cron expression (minute hour day month weekday)"
        )
    minute, hour, day, month, weekday = expression.split()
    try:
        # APScheduler counts weekdays from Monday = 0, cron from Sunday = 0 (and 7): use names.
        weekday = re.sub(r"\d+", lambda m: _WEEKDAYS[int(m.group())], weekday)
        return CronTrigger(
            minute=minute, hour=hour, day=day, month=month, day_of_week=weekday, timezone=timezone
        )
    except (ValueError, LookupError) as exc:
        raise JobError(f"{expression!r} is not a valid cron expression: {exc}") from None
